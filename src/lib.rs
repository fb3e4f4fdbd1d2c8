//! civicbridge
