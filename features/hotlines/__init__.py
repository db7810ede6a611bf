"""features/hotlines"""
