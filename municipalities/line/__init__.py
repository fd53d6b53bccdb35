"""Everything that talks to LINE. Nothing outside this package imports ``linebot``."""
