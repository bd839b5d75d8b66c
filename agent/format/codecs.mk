# agent/format/codecs.mk - the agent codecs (naming, index, digest, manifest, seal,
# headdoc, labels, protectdoc) and their unit tests; included from agent/Makefile.inc.
AGENT_CODEC_SOURCES = agent/format/naming.c agent/format/naming.h \
    agent/format/index.c agent/format/index.h \
    agent/format/digest.c agent/format/digest.h agent/format/manifest.c agent/format/manifest.h \
    agent/format/manifest_internal.h agent/format/manifest_enc.c agent/format/manifest_labels.c \
    agent/format/seal.c agent/format/seal.h agent/format/headdoc.c agent/format/headdoc.h \
    agent/format/parts.c agent/format/parts.h \
    agent/format/labels.c agent/format/labels.h agent/format/protectdoc.c agent/format/protectdoc.h

# One test program per codec; each links the codec sources.
CODEC_TEST_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(LZ4_CFLAGS) $(OPENSSL_CFLAGS) \
    $(XXHASH_CFLAGS) $(CMOCKA_CFLAGS)
CODEC_TEST_LIBS = $(JSONC_LIBS) $(LZ4_LIBS) $(OPENSSL_LIBS) $(XXHASH_LIBS) $(CMOCKA_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/format/test_naming tests/unit/format/test_index \
    tests/unit/format/test_digest tests/unit/format/test_manifest tests/unit/format/test_seal \
    tests/unit/format/test_headdoc tests/unit/format/test_manifest_enc \
    tests/unit/format/test_parts tests/unit/format/test_labels
TESTS += tests/unit/format/test_naming tests/unit/format/test_index \
    tests/unit/format/test_digest tests/unit/format/test_manifest tests/unit/format/test_seal \
    tests/unit/format/test_headdoc tests/unit/format/test_manifest_enc \
    tests/unit/format/test_parts tests/unit/format/test_labels
tests_unit_format_test_parts_SOURCES = tests/unit/format/test_parts.c agent/format/parts.c \
    agent/format/parts.h
tests_unit_format_test_parts_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_parts_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_naming_SOURCES = tests/unit/format/test_naming.c $(AGENT_CODEC_SOURCES)
tests_unit_format_test_naming_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_naming_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_index_SOURCES = tests/unit/format/test_index.c $(AGENT_CODEC_SOURCES)
tests_unit_format_test_index_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_index_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_digest_SOURCES = tests/unit/format/test_digest.c $(AGENT_CODEC_SOURCES)
tests_unit_format_test_digest_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_digest_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_manifest_SOURCES = tests/unit/format/test_manifest.c \
    tests/unit/format/manifest_fixture.h $(AGENT_CODEC_SOURCES)
tests_unit_format_test_manifest_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_manifest_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_manifest_enc_SOURCES = tests/unit/format/test_manifest_enc.c \
    tests/unit/format/manifest_fixture.h $(AGENT_CODEC_SOURCES)
tests_unit_format_test_manifest_enc_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_manifest_enc_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_seal_SOURCES = tests/unit/format/test_seal.c $(AGENT_CODEC_SOURCES)
tests_unit_format_test_seal_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_seal_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_headdoc_SOURCES = tests/unit/format/test_headdoc.c \
    $(AGENT_CODEC_SOURCES)
tests_unit_format_test_headdoc_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_headdoc_LDADD = $(CODEC_TEST_LIBS)
tests_unit_format_test_labels_SOURCES = tests/unit/format/test_labels.c \
    tests/unit/format/manifest_fixture.h $(AGENT_CODEC_SOURCES)
tests_unit_format_test_labels_CFLAGS = $(CODEC_TEST_CFLAGS)
tests_unit_format_test_labels_LDADD = $(CODEC_TEST_LIBS)
endif
