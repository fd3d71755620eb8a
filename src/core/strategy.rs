//! Choice strategies shared by provider choice and key choice.

use rand::Rng;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Always the first usable candidate in declared order.
    FirstAvailable,
    /// Rotates through the candidates, one step per call.
    RoundRobin,
    /// Uniformly random.
    Random,
    /// Random, proportional to each candidate's weight.
    WeightedRandom,
}

/// The order in which candidates are tried: a permutation of `0..weights.len()`.
/// `counter` is the round-robin position, advanced on every call.
pub fn order(strategy: Strategy, weights: &[u32], counter: &mut u64) -> Vec<usize> {
    let n = weights.len();
    let mut idx: Vec<usize> = (0..n).collect();
    if n <= 1 {
        return idx;
    }
    match strategy {
        Strategy::FirstAvailable => {}
        Strategy::RoundRobin => {
            let start = (*counter % n as u64) as usize;
            *counter = counter.wrapping_add(1);
            idx.rotate_left(start);
        }
        Strategy::Random => {
            let mut rng = rand::thread_rng();
            for i in (1..n).rev() {
                idx.swap(i, rng.gen_range(0..=i));
            }
        }
        Strategy::WeightedRandom => {
            // Weighted sampling without replacement; zero weights go last.
            let mut rng = rand::thread_rng();
            let mut keyed: Vec<(f64, usize)> = idx
                .iter()
                .map(|&i| {
                    let w = weights[i] as f64;
                    let key = if w > 0.0 {
                        rng.gen::<f64>().powf(1.0 / w)
                    } else {
                        -1.0
                    };
                    (key, i)
                })
                .collect();
            keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
            idx = keyed.into_iter().map(|(_, i)| i).collect();
        }
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_rotates() {
        let mut c = 0;
        let firsts: Vec<usize> = (0..6)
            .map(|_| order(Strategy::RoundRobin, &[1, 1, 1], &mut c)[0])
            .collect();
        assert_eq!(firsts, vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(
            order(Strategy::RoundRobin, &[1, 1, 1], &mut c),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn first_available_keeps_order() {
        let mut c = 0;
        for _ in 0..3 {
            assert_eq!(order(Strategy::FirstAvailable, &[1, 5], &mut c), vec![0, 1]);
        }
    }

    #[test]
    fn random_is_a_permutation() {
        let mut c = 0;
        let mut seen_first = [0; 4];
        for _ in 0..400 {
            let mut o = order(Strategy::Random, &[1, 1, 1, 1], &mut c);
            seen_first[o[0]] += 1;
            o.sort();
            assert_eq!(o, vec![0, 1, 2, 3]);
        }
        assert!(seen_first.iter().all(|&n| n > 40), "{seen_first:?}");
    }

    #[test]
    fn weighted_random_follows_weights() {
        let mut c = 0;
        let mut first = [0; 3];
        for _ in 0..3000 {
            first[order(Strategy::WeightedRandom, &[1, 3, 0], &mut c)[0]] += 1;
        }
        assert_eq!(first[2], 0, "zero weight is never first");
        assert!(first[1] > first[0] * 2, "{first:?}");
    }
}
