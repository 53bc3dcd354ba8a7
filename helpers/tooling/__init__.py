"""Author tooling, outside the lessons' runtime path: notebook hygiene (``authoring``), the lesson catalogue
(``lessons``, for the site and the web app) and the recording validator (``validate``, against the SDK's own types).
A notebook kernel never imports these."""
