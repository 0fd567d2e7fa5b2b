"""SQL statements more than one API domain builds on."""
