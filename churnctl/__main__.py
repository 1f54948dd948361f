from churnctl.cli.app import main

main()
