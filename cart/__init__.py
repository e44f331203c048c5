"""Cart: what a visitor is about to buy.

Owns the cart lines in the state Redis (`store`) and their write-behind to PostgreSQL (`Cart`,
`CartLine`, the sync beat task), the merge of a guest's cart at login, the cart page and the
header's cart count (the `cart` visitor slot). Uses catalog, inventory and the shelf.
"""
