from pyfiledrop.cli import main

main()
