// Constants of the FVD on-disk format. See core/format/FORMAT.md for the layout they describe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fvd::format {

inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint64_t kRegionAlignment = 4096;  // regions we create are 4 KiB aligned

// Header.
inline constexpr uint32_t kMagic = 0x5143F5A9;
inline constexpr uint32_t kVersion1 = 1;
inline constexpr uint32_t kVersion2 = 2;           // what we write
inline constexpr size_t kHeaderFieldsSize = 4336;  // v1 fields end here; v2 fields follow
inline constexpr size_t kHeaderRegionSize = 8192;  // header region (fields + zero padding)
inline constexpr size_t kBaseImgLen = 1024;
inline constexpr size_t kFormatNameLen = 16;
inline constexpr size_t kDataFileLen = 1024;
inline constexpr size_t kAddStorageCmdLen = 2048;

// v2 incompatible feature bits: a reader that does not know a set bit must refuse the image.
inline constexpr uint64_t kKnownIncompatibleFeatures = 0;

// Chunk table (compact images).
inline constexpr uint32_t kEmptyChunk = 0xFFFFFFFF;  // not allocated: reads return zeros
inline constexpr uint32_t kDirtyChunk = 0x80000000;  // in memory only: allocated, not journaled
inline constexpr uint32_t kMaxChunkId = 0x7FFFFFFE;

// Journal.
inline constexpr uint32_t kBitmapRecordType = 0x3F2AB8ED;
inline constexpr uint32_t kTableRecordType = 0xB4E6F7AC;
inline constexpr size_t kBitmapRecordSize = 16;
inline constexpr size_t kTableRecordHeaderSize = 12;
inline constexpr uint32_t kJournalSectorMagic = 0x4A445646;  // "FVDJ" in file byte order
inline constexpr size_t kJournalV2HeaderSize = 16;           // magic, flags, epoch
inline constexpr size_t kJournalV2TrailerSize = 4;           // crc32c
inline constexpr size_t kJournalV2Payload =
    kSectorSize - kJournalV2HeaderSize - kJournalV2TrailerSize;

// Defaults of FVD (the proposal's fvd.h) that creation uses.
inline constexpr uint64_t kDefaultChunkSize = 1 << 20;
inline constexpr uint64_t kDefaultJournalSize = 16 << 20;
inline constexpr uint64_t kDefaultStorageGrowUnit = 100 << 20;
inline constexpr uint64_t kModerateBitmapSize = 4
                                                << 20;  // auto block size keeps the bitmap <= this
inline constexpr uint64_t kDefaultMaxOutstandingCopyOnReadData = 2000000;
inline constexpr uint32_t kDefaultPrefetchSlots = 2;
inline constexpr uint32_t kDefaultBytesPerPrefetch = 1 << 20;
inline constexpr uint32_t kDefaultPrefetchMeasureTimeMs = 100;
inline constexpr uint32_t kDefaultPrefetchAlphaPercent = 80;
inline constexpr uint32_t kDefaultPrefetchMinThroughputKBps = 5120;
inline constexpr uint32_t kDefaultPrefetchMaxThroughputKBps = 1000000000;
inline constexpr uint32_t kDefaultPrefetchThrottleTimeMs = 30000;
inline constexpr uint32_t kDefaultProfileEntryLenUnit = 4096;

}  // namespace fvd::format
