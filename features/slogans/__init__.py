"""features/slogans"""
