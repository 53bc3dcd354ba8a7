"""The course chatbot: a web page that answers questions about the course, with the key kept on a local server.

Run it with ``make webapp`` (replay mode: recorded answers, no key) or ``make webapp BACKEND=live``.
"""
