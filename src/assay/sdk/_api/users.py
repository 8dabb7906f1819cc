from __future__ import annotations

from assay.sdk._api._endpoint import API, endpoint
from assay.sdk.models import Me, Page, User


class UsersAPI(API):
    me = endpoint("GET", "/me", returns=Me)
    create = endpoint("POST", "/users", returns=User, create=True)
    list = endpoint("GET", "/users", returns=Page[User])
    get = endpoint("GET", "/users/{user_id}", returns=User)
    deactivate = endpoint("POST", "/users/{user_id}/deactivate", returns=User, retry=True)
    reactivate = endpoint("POST", "/users/{user_id}/reactivate", returns=User, retry=True)
    reset_password = endpoint("POST", "/users/{user_id}/password", returns=User, retry=True)
    end_sessions = endpoint("DELETE", "/users/{user_id}/sessions")
