"""The command line: click commands; parse -> library call -> print / save."""
