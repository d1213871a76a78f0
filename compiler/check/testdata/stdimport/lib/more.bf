int mult = 8
