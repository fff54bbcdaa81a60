"""The catalogue (OAIS Data Management): database, PREMIS event log, users, queries.

An index of what storage holds: everything but users can be rebuilt from the OCFL objects.
"""
from repository.catalog import datestamps, set_specs  # noqa: F401  (mapper events for OAI-PMH)
from repository.catalog.database import Catalog, alembic_config, head_revisions, open_catalog
from repository.catalog.events import (EVENT_TYPES, OUTCOMES, ChainVerification, chain_head,
                                       event_digest, events_for_aip, record_event, verify_chain)
from repository.catalog.models import (Aip, AipFile, AipVersion, Base, Collection,
                                       DublinCoreRecord, PremisEvent, User)
from repository.catalog.premis import premis_xml
from repository.catalog.queries import (Page, count_readable_aips, get_aip, get_collection,
                                        get_or_create_collection, list_aips, list_collections,
                                        search_aips)
from repository.catalog.visibility import Reader, readable_aips, readable_collections
from repository.catalog.users import (ROLES, SignIn, add_user, authenticate, get_user,
                                      list_users, remove_user, reset_token, revoke_credentials,
                                      session_user, set_active, set_password, set_role, sign_in)

__all__ = [
    "Catalog", "alembic_config", "head_revisions", "open_catalog",
    "EVENT_TYPES", "OUTCOMES", "ChainVerification", "chain_head", "event_digest",
    "events_for_aip", "record_event", "verify_chain",
    "Aip", "AipFile", "AipVersion", "Base", "Collection", "DublinCoreRecord", "PremisEvent",
    "User", "premis_xml",
    "Page", "get_aip", "get_collection", "get_or_create_collection", "list_aips",
    "list_collections", "search_aips", "count_readable_aips",
    "Reader", "readable_aips", "readable_collections",
    "ROLES", "add_user", "authenticate", "get_user", "list_users", "remove_user", "reset_token",
    "SignIn", "revoke_credentials", "session_user", "set_active", "set_password", "set_role",
    "sign_in",
]
