export function ticks(scale) {
  return performance.now() * scale;
}
