//! Writing a selector's commands back as rules, the way Redis 7.0 does: start from `+@all`
//! (when future commands are allowed) or `-@all`, greedily apply the category that best
//! fits what is left, then name the single commands that still differ. Replaying the result
//! gives the same command set.

use super::catalog::{catalog, CATEGORIES};
use super::selector::Selector;

/// The command rules of `selector`, e.g. `-@all +@read -keys`.
pub fn describe_commands(selector: &Selector) -> String {
    let cat = catalog();
    let additive = !selector.allows_future_commands();
    let start = if additive { "-@all" } else { "+@all" };
    let mut rules = vec![start.to_string()];
    let mut fake = Selector::default();
    // Fixed, valid rules: they cannot fail.
    let _ = fake.apply(start.as_bytes());
    // What remains to explain: categories applied are undone here.
    let mut remaining = selector.clone();
    let mut applied = [false; CATEGORIES.len()];
    loop {
        let mut best: Option<usize> = None;
        let (mut min_diff, mut max_same) = (usize::MAX, 0);
        for (j, _) in CATEGORIES.iter().enumerate() {
            if applied[j] {
                continue;
            }
            let (on, off) = remaining.count_category(cat, 1 << j);
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(j);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(j) = best else {
            break;
        };
        let name = CATEGORIES[j].as_bytes();
        fake.apply_category(name, additive);
        remaining.apply_category(name, !additive);
        rules.push(format!(
            "{}@{}",
            if additive { '+' } else { '-' },
            CATEGORIES[j]
        ));
        applied[j] = true;
    }
    for index in 0..cat.len() {
        let want = selector.bit(index);
        if want != fake.bit(index) {
            rules.push(format!(
                "{}{}",
                if want { '+' } else { '-' },
                cat.name(index)
            ));
            fake.change(cat, index, want);
        }
        if !want {
            if let Some(args) = selector.first_args().get(&index) {
                for arg in args {
                    rules.push(format!(
                        "+{}|{}",
                        cat.name(index),
                        String::from_utf8_lossy(arg)
                    ));
                }
            }
        }
    }
    rules.join(" ")
}
