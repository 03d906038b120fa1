"""``make bench``: every benchmark, each with a floor measured in the same run."""

from __future__ import annotations

from tests.bench import checkins, http, login, messaging, online, scheduling, search

if __name__ == "__main__":
    http.main()
    print()
    search.main()
    print()
    scheduling.main()
    print()
    online.main()
    print()
    messaging.main()
    print()
    checkins.main()
    print()
    login.main()
