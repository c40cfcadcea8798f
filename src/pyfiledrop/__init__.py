"""pyfiledrop: a self-hosted server for uploading and sharing very large files fast."""
