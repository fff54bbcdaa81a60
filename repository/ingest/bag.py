"""Where the BagIt reader used to live: it is repository/bagit/ now, so fixity reads bags
with it too. Kept so older imports (`repository.ingest.bag`) still work."""
from repository.bagit.bag import *  # noqa: F401,F403
