"""HTTP at the edge: the falcon app, media types, XML, downloads. Nothing outside this package imports falcon."""
