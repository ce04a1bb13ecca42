"""The HTTP and websocket edge (aiohttp): authenticates, validates, sends commands, serves
reads from read models. No business rules live here."""
