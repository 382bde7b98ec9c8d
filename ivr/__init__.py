"""Call flows as data, the engine that renders them to TwiML, and the Twilio webhooks."""
