"""Shop: the site shell, on the top floor.

Owns accounts and sessions (sign-up, login throttling, the signed-in user from the shelf,
sessions in the state Redis written through to PostgreSQL), the base templates' chrome (the
header's account links, the `nav` visitor slot), error pages, health (/healthz), metrics
(/metrics), the staff's cache dashboard and the site-wide tests (faults, races, isolation,
security, clustering, browser journeys). May use every app below it.
"""
