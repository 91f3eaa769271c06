//! `client-output-buffer-limit`: how many reply bytes a client may leave unread before it is
//! disconnected, per client class, in Redis' syntax (`<class> <hard> <soft> <soft-seconds>`,
//! repeated). A setting names only the classes it changes; the others keep their limits.

use std::time::Duration;

use super::directive::{parse_int, parse_memory, FieldValue, Value};

/// The classes a limit applies to, in the order CONFIG GET lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    /// Every client that is neither a replica link nor subscribed (MONITOR included, as Redis).
    Normal,
    /// Replication links to slaves.
    Replica,
    /// Clients subscribed to at least one channel or pattern.
    PubSub,
}

impl ClientClass {
    const ALL: [ClientClass; 3] = [
        ClientClass::Normal,
        ClientClass::Replica,
        ClientClass::PubSub,
    ];

    /// The name CONFIG GET prints (Redis 7 still prints `slave`).
    fn name(self) -> &'static str {
        match self {
            ClientClass::Normal => "normal",
            ClientClass::Replica => "slave",
            ClientClass::PubSub => "pubsub",
        }
    }

    fn parse(text: &str) -> Option<ClientClass> {
        match text.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "replica" | "slave" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::PubSub),
            _ => None,
        }
    }
}

/// One class' limit; zero disables a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimit {
    /// Past this many bytes the client is closed at once.
    pub hard_bytes: u64,
    /// Past this many bytes for `soft_seconds` in a row the client is closed.
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

impl OutputLimit {
    /// Whether `pending` bytes break the limit, given since when they have been above the
    /// soft bound (`None`: not above it until now; updated here).
    pub fn is_exceeded(
        &self,
        pending: usize,
        soft_since: &mut Option<std::time::Instant>,
        now: std::time::Instant,
    ) -> bool {
        let pending = pending as u64;
        if self.hard_bytes > 0 && pending >= self.hard_bytes {
            return true;
        }
        if self.soft_bytes == 0 || pending < self.soft_bytes {
            *soft_since = None;
            return false;
        }
        let since = *soft_since.get_or_insert(now);
        now.duration_since(since) >= Duration::from_secs(self.soft_seconds)
    }
}

/// The limits of every class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputLimits {
    pub normal: OutputLimit,
    pub replica: OutputLimit,
    pub pubsub: OutputLimit,
}

impl OutputLimits {
    /// The limit of one class.
    pub fn of(&self, class: ClientClass) -> OutputLimit {
        match class {
            ClientClass::Normal => self.normal,
            ClientClass::Replica => self.replica,
            ClientClass::PubSub => self.pubsub,
        }
    }

    fn of_mut(&mut self, class: ClientClass) -> &mut OutputLimit {
        match class {
            ClientClass::Normal => &mut self.normal,
            ClientClass::Replica => &mut self.replica,
            ClientClass::PubSub => &mut self.pubsub,
        }
    }

    /// Parses a setting into the classes it names and their limits; the error is Redis'
    /// wording.
    pub fn parse_classes(text: &str) -> Result<Vec<(ClientClass, OutputLimit)>, String> {
        let words: Vec<&str> = text.split_ascii_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        words
            .chunks(4)
            .map(|w| {
                let class = ClientClass::parse(w[0]).ok_or_else(|| {
                    "Invalid client class specified in buffer limit configuration.".to_string()
                })?;
                let bad = || {
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_string()
                };
                let limit = OutputLimit {
                    hard_bytes: parse_memory(w[1]).ok_or_else(bad)?,
                    soft_bytes: parse_memory(w[2]).ok_or_else(bad)?,
                    soft_seconds: parse_int(w[3])
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(bad)?,
                };
                Ok((class, limit))
            })
            .collect()
    }
}

impl FieldValue for OutputLimits {
    fn from_value(v: Value) -> Option<Self> {
        let mut limits = OutputLimits::default();
        limits.update(v)?;
        Some(limits)
    }

    /// Changes only the classes the setting names.
    fn update(&mut self, v: Value) -> Option<()> {
        let Value::Text(text) = v else {
            return None;
        };
        for (class, limit) in OutputLimits::parse_classes(&text).ok()? {
            *self.of_mut(class) = limit;
        }
        Some(())
    }

    fn render(&self) -> String {
        ClientClass::ALL
            .iter()
            .map(|&c| {
                let l = self.of(c);
                format!(
                    "{} {} {} {}",
                    c.name(),
                    l.hard_bytes,
                    l.soft_bytes,
                    l.soft_seconds
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_changes_only_the_named_classes() {
        let mut l = OutputLimits::from_value(Value::Text(
            "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60".into(),
        ))
        .unwrap();
        l.update(Value::Text("pubsub 1k 2kb 3".into())).unwrap();
        assert_eq!(
            l.render(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1000 2048 3"
        );
    }

    #[test]
    fn bad_settings_are_refused_with_redis_reasons() {
        let err = |t| OutputLimits::parse_classes(t).unwrap_err();
        assert!(err("pubsub 1 2").starts_with("Wrong number"));
        assert!(err("master 1 2 3").starts_with("Invalid client class"));
        assert!(err("pubsub x 2 3").starts_with("Error in hard"));
        assert!(err("pubsub 1 2 -3").starts_with("Error in hard"));
    }

    #[test]
    fn soft_limit_needs_its_seconds_in_a_row() {
        let l = OutputLimit {
            hard_bytes: 100,
            soft_bytes: 10,
            soft_seconds: 5,
        };
        let t0 = std::time::Instant::now();
        let mut since = None;
        assert!(!l.is_exceeded(20, &mut since, t0));
        assert!(!l.is_exceeded(20, &mut since, t0 + Duration::from_secs(4)));
        assert!(l.is_exceeded(20, &mut since, t0 + Duration::from_secs(5)));
        assert!(!l.is_exceeded(5, &mut since, t0 + Duration::from_secs(6)));
        assert_eq!(since, None);
        assert!(l.is_exceeded(100, &mut since, t0));
    }
}
