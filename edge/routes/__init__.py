"""One module per group of routes, each exporting its literal `ROUTES` table."""
