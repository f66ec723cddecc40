from lmsys_tui.cli import main

main()
