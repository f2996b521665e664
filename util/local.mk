noinst_LIBRARIES += util/libutil.a
util_libutil_a_SOURCES = util/err.c util/err.h util/log.c util/log.h
