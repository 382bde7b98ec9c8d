"""Wire formats shared by the server and the simulator, and nothing else of either: Twilio's request
signatures, G.711 μ-law audio in 20 ms frames, and the Media Streams WebSocket messages."""
