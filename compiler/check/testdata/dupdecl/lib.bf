dim d = 256
