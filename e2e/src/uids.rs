//! Each test cluster's runs get uids no other cluster on the machine uses at the same time.
//! Every cluster allocates its users' uids from the start of its range, so with one shared
//! range the first user of every cluster would be the same uid: one test's `kill -9 -1` would
//! reach another test's runs. A block is held through an exclusive lock on its file for as
//! long as the cluster lives, across the test processes nextest runs in parallel.

use distcron_core::UidRange;
use std::fs::{File, OpenOptions};
use std::path::PathBuf;

/// Uids per cluster, and the number of blocks, from `FIRST` on (clear of the default range).
const BLOCK: u32 = 1000;
const BLOCKS: u32 = 1000;
const FIRST: u32 = 1_000_000;

/// A block of uids, held until dropped.
#[derive(Debug)]
pub struct UidBlock {
    pub range: UidRange,
    _lock: File,
}

impl UidBlock {
    /// A block no other live cluster holds.
    pub fn take() -> UidBlock {
        let dir = PathBuf::from("/var/tmp/distcron-e2e/uid-blocks");
        std::fs::create_dir_all(&dir).expect("uid block dir");
        let start = rand::random_range(0..BLOCKS);
        for i in 0..BLOCKS {
            let n = (start + i) % BLOCKS;
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(n.to_string()))
                .expect("uid block file");
            if file.try_lock().is_ok() {
                let first = FIRST + n * BLOCK;
                return UidBlock {
                    range: UidRange {
                        first,
                        last: first + BLOCK - 1,
                    },
                    _lock: file,
                };
            }
        }
        panic!("every uid block is taken");
    }
}
