//! A small seeded pseudo-random generator (SplitMix64): the dataset and the request variables
//! must be the same for the same seed on every machine and every version of the crates, which
//! a generator of our own guarantees without a dependency.

/// SplitMix64: fast, statistically sound for picking rows, and fully determined by its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`; `stream` separates independent sequences of one seed (one per
    /// table, per organization or per client) so that changing one does not shift the others.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = Self(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), without modulo bias worth measuring at our sizes.
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `lo..hi` (`lo < hi`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo < hi);
        let span = u64::try_from(hi - lo).unwrap_or(u64::MAX);
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `k` distinct indexes of `0..n`, in random order (a partial Fisher-Yates shuffle).
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_same_seed_gives_the_same_sequence_and_streams_differ() {
        let a: Vec<u64> = (0..5).map(|_| Rng::new(7, 1).next_u64()).collect();
        let mut r1 = Rng::new(7, 1);
        let mut r2 = Rng::new(7, 1);
        let mut r3 = Rng::new(7, 2);
        let s1: Vec<u64> = (0..5).map(|_| r1.next_u64()).collect();
        let s2: Vec<u64> = (0..5).map(|_| r2.next_u64()).collect();
        let s3: Vec<u64> = (0..5).map(|_| r3.next_u64()).collect();
        assert_eq!(s1, s2);
        assert_ne!(s1, s3);
        assert!(a.iter().all(|x| *x == a[0]));
    }

    #[test]
    fn draws_stay_in_range_and_samples_are_distinct() {
        let mut rng = Rng::new(1, 0);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let x = rng.range(-3, 4);
            assert!((-3..4).contains(&x));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        let mut s = rng.sample(100, 30);
        assert_eq!(s.len(), 30);
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 30);
        assert!(s.iter().all(|i| *i < 100));
    }
}
