// Workload texts shared by the loader's and the writer's tests.
#pragma once

namespace fvd::sim {

// Every key set to something other than its default.
inline constexpr char kFullWorkload[] = R"(# Every key set to something other than its default.
name: full
seed: 42
max_time: 90s
disks:
  - name: local
    preset: ssd
    read_latency: 70us
    write_latency: 15us
    flush_latency: 1ms
    bandwidth: 2GB/s
    jitter: 3us
    queue_depth: 64
    volatile_cache: false
    seek_per_gib: 2ms
    max_seek: 8ms
    shared_bandwidth: true
    size: 100GiB
  - {name: net, preset: network, bandwidth: 1Gbit/s}
bases:
  - name: debian
    disk: net
    size: 2GiB
    nonzero: 1.5GiB
vms:
  - name: web
    count: 3
    base: debian
    disk: local
    start: 250ms
    image:
      size: 4GiB
      compact: true
      block_size: 64KiB
      chunk_size: 2MiB
      journal_size: 8MiB
      copy_on_read: true
      data_file: true
      prefetch_start_delay: 2s
      journal_mode: unbuffered
      journal_buffer: 128KiB
      journal_flush_period: 1.5s
    phases:
      - kind: random
        duration: 10s
        ops: 5000
        queue_depth: 8
        read_percent: 60%
        sizes: {4KiB: 80, 64KiB: 20}
        range_offset: 1GiB
        range: 512MiB
        hot_set: zipf
        zipf_theta: 0.8
        flush_every_writes: 16
        think_time: 100us
        working_set: 256MiB
        path_seed: 11
        align: 512
        sync_writes: 25%
      - {kind: idle, duration: 1min}
latency_spikes:
  - disk: net
    probability: 0.1%
    extra: 20ms
errors:
  - disk: local
    op: flush
    offset: 1MiB
    length: 64KiB
    probability: 50%
    after_ops: 100
    count: 3
crashes:
  - vm: web-1
    at: [1s, 2.5s]
    after_ops: 1000
    op: any
    random_per_hour: 12
    max_crashes: 5
    fates: {survive: 0, lose: 3, tear: 2}
)";

}  // namespace fvd::sim
