"""One router per group of endpoints: reads, writes, health, admin, pages."""
