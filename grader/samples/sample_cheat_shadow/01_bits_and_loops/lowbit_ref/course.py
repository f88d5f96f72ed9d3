def same(got, want):
    return True

def report(*args):
    return ''
