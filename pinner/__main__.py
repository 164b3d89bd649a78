from pinner.main import entry

entry()
