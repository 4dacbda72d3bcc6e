from runtime import operation


@operation(name="etl.extract", depends_on=["etl.load"])
def extract():
    return 1


@operation(name="etl.transform")
def transform(extract):
    return extract


@operation(name="etl.load")
def load(transform):
    return transform
