"""The command-line upload client: speaks pyfiledrop's chunk protocol, resumes, checks SHA-256."""
