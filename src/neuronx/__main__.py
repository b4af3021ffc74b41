from neuronx.cli.main import main

main()
