"""Optional features plug in here (plugins for the app, subcommands for the CLI)."""
