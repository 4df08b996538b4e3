from accelsim.cli.app import main

main()
