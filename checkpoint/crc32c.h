/*
 * crc32c.h — CRC-32C moved to common/ (the coordinator's journal checksums
 * its records with it too); this header keeps checkpoint/'s includes
 * working.
 */
#include "common/crc32c.h"
