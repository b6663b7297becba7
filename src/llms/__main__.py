from llms.cli import main

raise SystemExit(main())
