"""Code that runs *inside* the sandbox. Standard library only, Python 3.11+;
it is copied or bind-mounted into sandboxes as a plain directory."""
