class Orders(list):
    pass


class Summary(dict):
    pass
