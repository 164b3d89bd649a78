from pinner.main import main

raise SystemExit(main())
