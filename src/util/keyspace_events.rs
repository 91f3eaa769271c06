//! The classes of keyspace notifications (`notify-keyspace-events`), as Redis 7 names them.
//!
//! The directive is a string of one-letter classes: `K` (publish on `__keyspace@<db>__:<key>`),
//! `E` (publish on `__keyevent@<db>__:<event>`), and the event classes `g $ l s h z x e t m d n`,
//! `A` standing for `g$lshzxetd` (not `m` nor `n`, as in Redis). The bit values are Redis' own
//! (`NOTIFY_*` in its server.h), so a stored mask reads the same in both.

bitflags::bitflags! {
    /// A set of notification classes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct EventClasses: u32 {
        /// `K`: publish on the key's channel, the event as message.
        const KEYSPACE = 1 << 0;
        /// `E`: publish on the event's channel, the key as message.
        const KEYEVENT = 1 << 1;
        /// `g`: type-independent commands (DEL, EXPIRE, RENAME, ...).
        const GENERIC = 1 << 2;
        /// `$`: strings.
        const STRING = 1 << 3;
        /// `l`: lists.
        const LIST = 1 << 4;
        /// `s`: sets.
        const SET = 1 << 5;
        /// `h`: hashes.
        const HASH = 1 << 6;
        /// `z`: sorted sets.
        const ZSET = 1 << 7;
        /// `x`: a key removed because its deadline passed.
        const EXPIRED = 1 << 8;
        /// `e`: a key removed for maxmemory.
        const EVICTED = 1 << 9;
        /// `t`: streams.
        const STREAM = 1 << 10;
        /// `m`: a read found no key.
        const KEY_MISS = 1 << 11;
        /// `d`: module events (accepted; pika-rs has no modules).
        const MODULE = 1 << 13;
        /// `n`: a key was created.
        const NEW = 1 << 14;
        /// `A`: every event class but `m` and `n`.
        const ALL = Self::GENERIC.bits() | Self::STRING.bits() | Self::LIST.bits()
            | Self::SET.bits() | Self::HASH.bits() | Self::ZSET.bits() | Self::EXPIRED.bits()
            | Self::EVICTED.bits() | Self::STREAM.bits() | Self::MODULE.bits();
    }
}

/// The letter of each single class, in the order Redis prints them (after `A`, before `K E m`).
const EVENT_LETTERS: &[(char, EventClasses)] = &[
    ('g', EventClasses::GENERIC),
    ('$', EventClasses::STRING),
    ('l', EventClasses::LIST),
    ('s', EventClasses::SET),
    ('h', EventClasses::HASH),
    ('z', EventClasses::ZSET),
    ('x', EventClasses::EXPIRED),
    ('e', EventClasses::EVICTED),
    ('t', EventClasses::STREAM),
    ('d', EventClasses::MODULE),
    ('n', EventClasses::NEW),
];

/// Redis' reason for a letter that names no class.
pub const INVALID_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

impl EventClasses {
    /// The classes named by `text`, letters in any order and repeated at will.
    pub fn parse(text: &str) -> Result<EventClasses, &'static str> {
        let mut classes = EventClasses::empty();
        for c in text.chars() {
            classes |= match c {
                'A' => EventClasses::ALL,
                'K' => EventClasses::KEYSPACE,
                'E' => EventClasses::KEYEVENT,
                'm' => EventClasses::KEY_MISS,
                other => EVENT_LETTERS
                    .iter()
                    .find(|(letter, _)| *letter == other)
                    .map(|(_, class)| *class)
                    .ok_or(INVALID_CLASS)?,
            };
        }
        Ok(classes)
    }

    /// The canonical spelling CONFIG GET shows: `A` or the single event letters, then `K`,
    /// `E`, `m` (so `KA` reads `AK` and `gKE` stays `gKE`).
    pub fn render(self) -> String {
        let mut out = String::new();
        if self.contains(EventClasses::ALL) {
            out.push('A');
            // `n` is outside `A` and printed by neither branch in Redis either way, so a
            // mask with both must still show it.
            if self.contains(EventClasses::NEW) {
                out.push('n');
            }
        } else {
            for (letter, class) in EVENT_LETTERS {
                if self.contains(*class) {
                    out.push(*letter);
                }
            }
        }
        for (letter, class) in [
            ('K', EventClasses::KEYSPACE),
            ('E', EventClasses::KEYEVENT),
            ('m', EventClasses::KEY_MISS),
        ] {
            if self.contains(class) {
                out.push(letter);
            }
        }
        out
    }

    /// The classes that actually publish: none unless `K` or `E` says where to.
    pub fn effective(self) -> EventClasses {
        if self.intersects(EventClasses::KEYSPACE | EventClasses::KEYEVENT) {
            self
        } else {
            EventClasses::empty()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventClasses;

    fn normalised(text: &str) -> String {
        EventClasses::parse(text).unwrap().render()
    }

    #[test]
    fn render_puts_a_first_and_k_e_last() {
        assert_eq!(normalised("gKE"), "gKE");
        assert_eq!(normalised("$lshzxeKE"), "$lshzxeKE");
        assert_eq!(normalised("KA"), "AK");
        assert_eq!(normalised("EA"), "AE");
        assert_eq!(normalised("Ezg"), "gzE");
        assert_eq!(normalised("mKl"), "lKm");
        assert_eq!(normalised(""), "");
    }

    #[test]
    fn all_letters_spelled_out_read_as_a() {
        assert_eq!(normalised("g$lshzxetdK"), "AK");
    }

    #[test]
    fn unknown_letter_is_refused() {
        assert_eq!(
            EventClasses::parse("Kq"),
            Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        );
    }

    #[test]
    fn without_k_or_e_nothing_publishes() {
        assert!(EventClasses::parse("A").unwrap().effective().is_empty());
        assert!(!EventClasses::parse("Kg").unwrap().effective().is_empty());
    }
}
