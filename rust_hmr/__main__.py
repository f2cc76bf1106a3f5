from rust_hmr.cli import main

main()
