# agent/format/codecs.mk - the agent codecs (naming, index, manifest) and their unit test;
# included from agent/Makefile.inc.
AGENT_CODEC_SOURCES = agent/format/naming.c agent/format/naming.h \
    agent/format/index.c agent/format/index.h \
    agent/format/digest.c agent/format/digest.h agent/format/manifest.c agent/format/manifest.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/format/test_agent_codecs
TESTS += tests/unit/format/test_agent_codecs
tests_unit_format_test_agent_codecs_SOURCES = tests/unit/format/test_agent_codecs.c \
    $(AGENT_CODEC_SOURCES)
tests_unit_format_test_agent_codecs_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(LZ4_CFLAGS) \
    $(OPENSSL_CFLAGS) $(XXHASH_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_format_test_agent_codecs_LDADD = $(JSONC_LIBS) $(LZ4_LIBS) $(OPENSSL_LIBS) \
    $(XXHASH_LIBS) $(CMOCKA_LIBS)
endif
