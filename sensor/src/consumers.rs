//! The pipeline's consumers side by side: every event goes to the profile recorder (AppArmor
//! observations of the recordings in progress) and to the rules stage, siblings that know
//! nothing of each other, the recorder first.

use crate::event::Event;
use crate::pipeline::{Sink, Stats};
use crate::profile::Recordings;

pub struct Consumers<R> {
    pub profiles: Option<Recordings>,
    pub rules: R,
}

impl<R: Sink> Sink for Consumers<R> {
    type Error = R::Error;

    fn event(&mut self, event: &Event) -> Result<(), R::Error> {
        if let Some(profiles) = &self.profiles {
            profiles.observe(event);
        }
        self.rules.event(event)
    }

    fn flush(&mut self) -> Result<(), R::Error> {
        self.rules.flush()
    }

    fn lost(&mut self, stats: &Stats) -> Result<(), R::Error> {
        self.rules.lost(stats)
    }
}
