"""A deterministic demo catalog: category tree, products, stock and placeholder images.

The generator half (``build_categories``, ``generate_products``) is pure Python: the same seed
always yields the same rows, whatever the database holds. The loader half (``seed_catalog``)
writes those rows with PostgreSQL COPY inside one transaction, with explicit primary keys, and
resets the sequences afterwards. COPY sends no model signals, so the loader tells the cache
through ``catalog.services.catalog_changed_everything`` once the transaction commits.
"""

from __future__ import annotations

import importlib
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.core.management.color import no_style
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.text import slugify

from catalog.models import Category, Product, ProductImage
from inventory.models import Stock

DEFAULT_SEED = 42
HISTORY_DAYS = 730
DAY = 86_400

# Shares of the catalog; each is an exact quota (rounded), not an independent coin toss, so a
# small catalog still has a few of each.
OUT_OF_STOCK_SHARE = 0.05
LOW_STOCK_SHARE = 0.10
INACTIVE_SHARE = 0.02
NEW_TODAY_SHARE = 0.005
LOW_STOCK_MAX = 9
STOCK_RANGE = (10, 500)
IMAGE_COUNT_WEIGHTS = (15, 30, 30, 25)  # 1, 2, 3 or 4 images

# ---------------------------------------------------------------------------------------------
# Static data: departments, leaf categories, brands and the words descriptions are built from.
# ---------------------------------------------------------------------------------------------

TECH_COLOURS = ("Black", "Silver", "Space Grey", "White", "Midnight Blue", "Graphite")
PHONE_COLOURS = (*TECH_COLOURS, "Rose Gold", "Ocean Blue", "Forest Green")
BRIGHT_COLOURS = (
    "Black",
    "White",
    "Red",
    "Ocean Blue",
    "Forest Green",
    "Sunset Orange",
    "Lavender",
    "Sand",
)
FASHION_COLOURS = ("Black", "Navy", "Olive", "Camel", "Charcoal", "Burgundy", "Cream", "Stone")
CLOTHING_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
SHOE_SIZES = tuple(f"EU {size}" for size in range(36, 48))
AGES = ("3+", "6+", "8+", "10+", "12+", "14+")

# Hue (0-359) of the colours that have one; neutral colours get a random hue.
COLOUR_HUES = {
    "Red": 0,
    "Burgundy": 345,
    "Rose Gold": 15,
    "Sunset Orange": 25,
    "Camel": 33,
    "Sand": 40,
    "Cream": 45,
    "Olive": 75,
    "Forest Green": 135,
    "Ocean Blue": 200,
    "Midnight Blue": 225,
    "Navy": 230,
    "Lavender": 270,
}


@dataclass(frozen=True)
class LeafSpec:
    """One leaf category and what its products look like."""

    name: str
    slug: str
    description: str
    nouns: tuple[str, ...]
    price: tuple[int, int]  # whole currency units, drawn log-uniformly
    attributes: dict[str, tuple[str, ...]]
    weight: int = 2  # relative share of the products


@dataclass(frozen=True)
class DepartmentSpec:
    """A top-level category with its brands, model names and description vocabulary."""

    name: str
    slug: str
    code: str
    description: str
    brands: tuple[str, ...]
    model_prefixes: tuple[str, ...]
    model_suffixes: tuple[str, ...]
    uses: tuple[str, ...]
    features: tuple[str, ...]
    leaves: tuple[LeafSpec, ...]
    books: bool = False


DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec(
        name="Computers",
        slug="computers",
        code="CMP",
        description="Laptops, desktops, monitors and the accessories that keep you productive.",
        brands=("Nordvik", "Altura", "Quillon", "Veradyne", "Corvex"),
        model_prefixes=("X", "Z", "Aero ", "Book ", "Vision ", "Core "),
        model_suffixes=("", "", "", "Pro", "Max", "Air", "Plus", "Ultra", "SE"),
        uses=(
            "work, study and everything in between",
            "long days of coding and creative work",
            "home offices that need to keep up",
            "gaming after hours",
        ),
        features=(
            "a fast, quiet cooling system",
            "Wi-Fi 6E and Bluetooth 5.3",
            "a full set of ports including USB-C",
            "a chassis made from recycled aluminium",
            "driver-free plug-and-play setup",
            "a low-power standby mode",
        ),
        leaves=(
            LeafSpec(
                "Laptops",
                "laptops",
                "Thin-and-light notebooks, workstations and gaming laptops.",
                ("Laptop", "Laptop", "Gaming Laptop", "Ultrabook Laptop"),
                (399, 2999),
                {
                    "screen": ("13.3-inch", "14-inch", "15.6-inch", "16-inch"),
                    "memory": ("8 GB", "16 GB", "32 GB"),
                    "storage": ("256 GB SSD", "512 GB SSD", "1 TB SSD"),
                    "colour": TECH_COLOURS,
                },
                weight=4,
            ),
            LeafSpec(
                "Desktop Computers",
                "desktop-computers",
                "Tower, compact and all-in-one desktop PCs for home and office.",
                ("Desktop PC", "Gaming PC", "Mini PC"),
                (349, 3499),
                {
                    "processor": ("4-core", "6-core", "8-core", "12-core"),
                    "memory": ("8 GB", "16 GB", "32 GB", "64 GB"),
                    "storage": ("512 GB SSD", "1 TB SSD", "2 TB SSD"),
                },
            ),
            LeafSpec(
                "Monitors",
                "monitors",
                "Office, gaming and ultrawide monitors from 24 to 34 inches.",
                ("Monitor", "Gaming Monitor", "Office Monitor"),
                (119, 1299),
                {
                    "size": ("24-inch", "27-inch", "32-inch", "34-inch ultrawide"),
                    "resolution": ("1920 x 1080", "2560 x 1440", "3840 x 2160"),
                    "refresh rate": ("60 Hz", "75 Hz", "144 Hz", "165 Hz"),
                },
            ),
            LeafSpec(
                "Keyboards & Mice",
                "keyboards-mice",
                "Mechanical and wireless keyboards, mice and desk accessories.",
                ("Mechanical Keyboard", "Wireless Keyboard", "Wireless Mouse", "Gaming Mouse"),
                (19, 199),
                {
                    "connection": ("Bluetooth", "2.4 GHz wireless", "USB-C wired"),
                    "colour": TECH_COLOURS,
                },
                weight=3,
            ),
            LeafSpec(
                "Storage & Drives",
                "storage-drives",
                "Portable SSDs, external hard drives and memory for backups and more.",
                ("Portable SSD", "External Hard Drive", "USB Flash Drive", "NVMe SSD"),
                (15, 449),
                {
                    "capacity": ("256 GB", "512 GB", "1 TB", "2 TB", "4 TB"),
                    "interface": ("USB-C 3.2", "USB-A 3.0", "PCIe 4.0"),
                },
            ),
        ),
    ),
    DepartmentSpec(
        name="Phones & Tablets",
        slug="phones-tablets",
        code="PHN",
        description="Smartphones, tablets, smartwatches and everything to charge and protect them.",
        brands=("Lumio", "Zentra", "Orbix", "Kairo", "Nexaro"),
        model_prefixes=("A", "S", "Note ", "Edge ", "Nova ", "Flip "),
        model_suffixes=("", "", "", "Pro", "Max", "Lite", "Plus", "Ultra", "5G"),
        uses=(
            "staying connected wherever the day takes you",
            "busy people who live on their phones",
            "streaming, gaming and video calls",
            "travel, commuting and everything in between",
        ),
        features=(
            "all-day battery life",
            "fast charging over USB-C",
            "a bright, scratch-resistant display",
            "water and dust resistance",
            "two years of software updates",
            "a recycled-plastic frame",
        ),
        leaves=(
            LeafSpec(
                "Smartphones",
                "smartphones",
                "Unlocked 5G smartphones from budget to flagship.",
                ("Smartphone", "5G Phone", "Phone"),
                (149, 1399),
                {
                    "storage": ("64 GB", "128 GB", "256 GB", "512 GB"),
                    "screen": ("6.1-inch", "6.4-inch", "6.7-inch"),
                    "colour": PHONE_COLOURS,
                },
                weight=5,
            ),
            LeafSpec(
                "Tablets",
                "tablets",
                "Tablets for reading, drawing, streaming and schoolwork.",
                ("Tablet", "Tablet", "Kids Tablet"),
                (99, 1299),
                {
                    "storage": ("64 GB", "128 GB", "256 GB"),
                    "screen": ("8-inch", "10.9-inch", "11-inch", "12.9-inch"),
                    "connectivity": ("Wi-Fi", "Wi-Fi + 5G"),
                    "colour": TECH_COLOURS,
                },
                weight=3,
            ),
            LeafSpec(
                "Smartwatches",
                "smartwatches",
                "Smartwatches and fitness trackers with GPS and heart-rate sensors.",
                ("Smartwatch", "Fitness Watch", "GPS Running Watch"),
                (49, 799),
                {
                    "case size": ("40 mm", "42 mm", "44 mm", "46 mm"),
                    "strap": ("silicone", "woven nylon", "leather", "stainless steel"),
                    "colour": TECH_COLOURS,
                },
                weight=3,
            ),
            LeafSpec(
                "Phone Cases",
                "phone-cases",
                "Slim, rugged and wallet cases to protect your phone.",
                ("Phone Case", "Clear Phone Case", "Rugged Phone Case", "Wallet Phone Case"),
                (9, 59),
                {
                    "fits": ("6.1-inch phones", "6.4-inch phones", "6.7-inch phones"),
                    "material": ("silicone", "TPU", "leather", "recycled plastic"),
                    "colour": BRIGHT_COLOURS,
                },
                weight=3,
            ),
            LeafSpec(
                "Chargers & Power Banks",
                "chargers-power-banks",
                "Wall chargers, wireless chargers, cables and power banks.",
                ("USB-C Charger", "Power Bank", "Wireless Charger", "Charging Cable"),
                (9, 89),
                {
                    "power": ("20 W", "30 W", "65 W", "100 W"),
                    "colour": ("Black", "White"),
                },
            ),
        ),
    ),
    DepartmentSpec(
        name="Audio",
        slug="audio",
        code="AUD",
        description="Headphones, earbuds, speakers and hi-fi for every kind of listener.",
        brands=("Sonora", "Basswell", "Aurik", "Fidelo", "Echolab"),
        model_prefixes=("QC", "Studio ", "Wave ", "Pulse ", "Air ", "H"),
        model_suffixes=("", "", "", "Pro", "Max", "II", "III", "Plus", "Mini"),
        uses=(
            "music lovers who care about detail",
            "commutes, workouts and long flights",
            "parties, podcasts and everyday listening",
            "living rooms that deserve better sound",
        ),
        features=(
            "rich, balanced sound with deep bass",
            "multipoint Bluetooth pairing",
            "a companion app with a custom equaliser",
            "fast charging over USB-C",
            "clear calls with beam-forming microphones",
            "low-latency mode for games and video",
        ),
        leaves=(
            LeafSpec(
                "Headphones",
                "headphones",
                "Over-ear and on-ear headphones, wireless and wired.",
                (
                    "Headphones",
                    "Wireless Headphones",
                    "Noise Cancelling Headphones",
                    "Studio Headphones",
                ),
                (29, 549),
                {
                    "battery life": ("20 hours", "30 hours", "40 hours", "60 hours"),
                    "connection": ("Bluetooth 5.3", "Bluetooth 5.2", "Bluetooth + 3.5 mm cable"),
                    "colour": TECH_COLOURS,
                },
                weight=4,
            ),
            LeafSpec(
                "Wireless Earbuds",
                "wireless-earbuds",
                "True wireless earbuds for workouts, commutes and calls.",
                ("Wireless Earbuds", "Sport Earbuds", "Noise Cancelling Earbuds"),
                (19, 299),
                {
                    "battery life": ("6 hours", "8 hours", "10 hours"),
                    "water resistance": ("IPX4", "IPX5", "IP57"),
                    "colour": BRIGHT_COLOURS,
                },
                weight=3,
            ),
            LeafSpec(
                "Bluetooth Speakers",
                "bluetooth-speakers",
                "Portable, waterproof and smart speakers for home and away.",
                ("Bluetooth Speaker", "Portable Speaker", "Waterproof Speaker", "Smart Speaker"),
                (25, 399),
                {
                    "output": ("10 W", "20 W", "40 W", "60 W"),
                    "water resistance": ("IPX4", "IPX7", "IP67"),
                    "colour": BRIGHT_COLOURS,
                },
            ),
            LeafSpec(
                "Soundbars",
                "soundbars",
                "Soundbars and subwoofers that lift the sound of any TV.",
                ("Soundbar", "Soundbar with Subwoofer", "Surround Soundbar"),
                (99, 999),
                {
                    "channels": ("2.0", "2.1", "3.1", "5.1"),
                    "output": ("120 W", "200 W", "300 W", "450 W"),
                    "colour": ("Black", "Graphite", "White"),
                },
                weight=1,
            ),
            LeafSpec(
                "Turntables",
                "turntables",
                "Record players and turntables for your vinyl collection.",
                ("Turntable", "Record Player"),
                (89, 899),
                {
                    "drive": ("belt drive", "direct drive"),
                    "speeds": ("33/45 rpm", "33/45/78 rpm"),
                    "finish": ("walnut", "black", "white", "oak"),
                },
                weight=1,
            ),
        ),
    ),
    DepartmentSpec(
        name="Home & Kitchen",
        slug="home-kitchen",
        code="HOM",
        description="Appliances, cookware, lighting and cleaning for a home that works.",
        brands=("Hearthly", "Culinex", "Brightwell", "Maison Oro", "Kettleby"),
        model_prefixes=("Barista ", "Chef ", "Pure ", "Home ", "Series ", "K"),
        model_suffixes=("", "", "", "Pro", "Plus", "Deluxe", "Compact", "XL"),
        uses=(
            "busy kitchens and weekend cooks",
            "small flats and big family homes",
            "everyday cooking without the fuss",
            "anyone who likes a tidy, well-lit home",
        ),
        features=(
            "easy-clean, dishwasher-safe parts",
            "an energy-saving auto-off",
            "a two-year manufacturer's warranty",
            "a compact footprint that suits small spaces",
            "sturdy, food-safe materials",
            "simple controls that anyone can use",
        ),
        leaves=(
            LeafSpec(
                "Coffee Machines",
                "coffee-machines",
                "Espresso machines, bean-to-cup machines and filter coffee makers.",
                ("Espresso Machine", "Coffee Maker", "Bean-to-Cup Coffee Machine"),
                (49, 1199),
                {
                    "water tank": ("1.2 L", "1.5 L", "1.8 L", "2 L"),
                    "finish": ("brushed steel", "matte black", "cream", "red"),
                },
                weight=3,
            ),
            LeafSpec(
                "Cookware",
                "cookware",
                "Frying pans, saucepans, woks and complete cookware sets.",
                ("Frying Pan", "Saucepan", "Cookware Set", "Dutch Oven", "Wok"),
                (19, 349),
                {
                    "material": (
                        "stainless steel",
                        "cast iron",
                        "ceramic non-stick",
                        "carbon steel",
                    ),
                    "size": ("20 cm", "24 cm", "28 cm", "30 cm"),
                    "induction ready": ("yes", "no"),
                },
                weight=3,
            ),
            LeafSpec(
                "Blenders & Mixers",
                "blenders-mixers",
                "Blenders, stand mixers and food processors for smoothies and baking.",
                ("Blender", "Stand Mixer", "Hand Blender", "Food Processor"),
                (29, 599),
                {
                    "power": ("350 W", "600 W", "1000 W", "1500 W"),
                    "capacity": ("1 L", "1.5 L", "2 L"),
                    "colour": BRIGHT_COLOURS,
                },
            ),
            LeafSpec(
                "Vacuum Cleaners",
                "vacuum-cleaners",
                "Cordless, upright and robot vacuum cleaners.",
                ("Vacuum Cleaner", "Cordless Vacuum Cleaner", "Robot Vacuum"),
                (79, 899),
                {
                    "run time": ("30 minutes", "45 minutes", "60 minutes", "90 minutes"),
                    "bin capacity": ("0.5 L", "0.6 L", "0.8 L"),
                    "colour": TECH_COLOURS,
                },
            ),
            LeafSpec(
                "Lighting",
                "lighting",
                "Desk lamps, floor lamps, pendants and smart bulbs.",
                ("Desk Lamp", "Floor Lamp", "Pendant Light", "Smart Bulb Set"),
                (15, 349),
                {
                    "colour temperature": ("2700 K", "3000 K", "4000 K", "adjustable"),
                    "material": ("brass", "aluminium", "linen", "oak"),
                },
            ),
        ),
    ),
    DepartmentSpec(
        name="Sports & Outdoors",
        slug="sports-outdoors",
        code="SPT",
        description="Running, cycling, camping and fitness gear for getting outside.",
        brands=("Trailmark", "Peakform", "Velora", "Northpine", "Stridex"),
        model_prefixes=("Trail ", "Ridge ", "Summit ", "Tempo ", "Sprint ", "Apex "),
        model_suffixes=("", "", "", "Pro", "GTX", "Lite", "Elite", "Plus"),
        uses=(
            "early runs, long rides and weekends outdoors",
            "beginners and seasoned athletes alike",
            "trail days in changeable weather",
            "home workouts and gym sessions",
        ),
        features=(
            "tough, lightweight materials",
            "reflective details for low light",
            "a fit that has been tested by athletes",
            "weather-ready construction",
            "a lifetime repair programme",
            "packaging made from recycled card",
        ),
        leaves=(
            LeafSpec(
                "Running Shoes",
                "running-shoes",
                "Road, trail and racing running shoes for every distance.",
                ("Running Shoes", "Trail Running Shoes", "Racing Shoes"),
                (59, 249),
                {
                    "size": SHOE_SIZES,
                    "drop": ("4 mm", "6 mm", "8 mm", "10 mm"),
                    "colour": BRIGHT_COLOURS,
                },
                weight=4,
            ),
            LeafSpec(
                "Bikes",
                "bikes",
                "Road, mountain, gravel and electric bikes.",
                ("Road Bike", "Mountain Bike", "Gravel Bike", "E-Bike", "Hybrid Bike"),
                (349, 4999),
                {
                    "frame size": ("S", "M", "L", "XL"),
                    "gears": ("1-speed", "11-speed", "12-speed", "2x11-speed"),
                    "frame material": ("aluminium", "carbon", "steel"),
                },
                weight=1,
            ),
            LeafSpec(
                "Camping Gear",
                "camping-gear",
                "Tents, sleeping bags, mats and stoves for nights under the stars.",
                ("Tent", "Sleeping Bag", "Sleeping Mat", "Camping Stove"),
                (19, 699),
                {
                    "weight": ("0.9 kg", "1.4 kg", "2.2 kg", "3.1 kg"),
                    "season": ("3-season", "4-season"),
                    "colour": ("Forest Green", "Sand", "Sunset Orange", "Ocean Blue"),
                },
            ),
            LeafSpec(
                "Fitness Equipment",
                "fitness-equipment",
                "Dumbbells, kettlebells and weight plates for strength training at home.",
                ("Dumbbell Set", "Adjustable Dumbbells", "Kettlebell", "Weight Plate Set"),
                (15, 499),
                {
                    "weight": ("4 kg", "8 kg", "12 kg", "16 kg", "24 kg", "32 kg"),
                    "finish": ("cast iron", "rubber-coated", "neoprene-coated", "chrome"),
                },
            ),
            LeafSpec(
                "Hiking Backpacks",
                "hiking-backpacks",
                "Daypacks and trekking backpacks from 20 to 65 litres.",
                ("Hiking Backpack", "Daypack", "Trekking Backpack"),
                (39, 329),
                {
                    "volume": ("20 L", "30 L", "45 L", "65 L"),
                    "material": ("ripstop nylon", "recycled polyester", "waxed canvas"),
                    "colour": ("Black", "Forest Green", "Sunset Orange", "Ocean Blue", "Sand"),
                },
            ),
        ),
    ),
    DepartmentSpec(
        name="Fashion",
        slug="fashion",
        code="FSH",
        description="Shoes, jackets, T-shirts and watches for every season.",
        brands=("Atelier Noma", "Harbor & Finch", "Loomwright", "Saltmarsh", "Vantaire"),
        model_prefixes=(
            "Heritage ",
            "Metro ",
            "Harbor ",
            "Alpine ",
            "Coast ",
            "Everyday ",
            "Field ",
            "Meridian ",
            "Linden ",
            "Arlo ",
        ),
        model_suffixes=("", "", "", "", "Classic", "Low", "Edit"),
        uses=(
            "everyday wear that lasts more than a season",
            "city days, weekends away and everything between",
            "anyone who likes simple, well-made clothes",
            "layering through cold and changeable weather",
        ),
        features=(
            "responsibly sourced materials",
            "reinforced stitching at stress points",
            "a relaxed fit that holds its shape",
            "free alterations for a year",
            "a design that has been refined over many seasons",
            "fabric finished without harsh chemicals",
        ),
        leaves=(
            LeafSpec(
                "Sneakers",
                "sneakers",
                "Low-top, high-top and canvas sneakers.",
                ("Sneakers", "Low-Top Sneakers", "High-Top Sneakers", "Canvas Shoes"),
                (39, 229),
                {
                    "size": SHOE_SIZES,
                    "material": ("leather", "suede", "canvas", "knit"),
                    "colour": FASHION_COLOURS,
                },
                weight=4,
            ),
            LeafSpec(
                "Boots",
                "boots",
                "Chelsea, hiking, ankle and winter boots.",
                ("Chelsea Boots", "Hiking Boots", "Ankle Boots", "Winter Boots"),
                (69, 349),
                {
                    "size": SHOE_SIZES,
                    "material": ("leather", "suede", "waterproof nubuck"),
                    "colour": FASHION_COLOURS,
                },
            ),
            LeafSpec(
                "Jackets & Coats",
                "jackets-coats",
                "Rain jackets, down jackets, wool coats and denim.",
                ("Rain Jacket", "Down Jacket", "Wool Coat", "Denim Jacket", "Softshell Jacket"),
                (49, 499),
                {
                    "size": CLOTHING_SIZES,
                    "material": (
                        "recycled polyester",
                        "wool blend",
                        "organic cotton",
                        "waxed cotton",
                    ),
                    "colour": FASHION_COLOURS,
                },
                weight=3,
            ),
            LeafSpec(
                "T-Shirts",
                "t-shirts",
                "Crew necks, polos and organic cotton T-shirts.",
                ("T-Shirt", "Crew Neck T-Shirt", "Organic Cotton T-Shirt", "Polo Shirt"),
                (9, 59),
                {
                    "size": CLOTHING_SIZES,
                    "fit": ("regular", "slim", "relaxed"),
                    "colour": FASHION_COLOURS,
                },
                weight=4,
            ),
            LeafSpec(
                "Watches",
                "watches",
                "Automatic, chronograph, dive and field watches.",
                ("Watch", "Automatic Watch", "Chronograph Watch", "Dive Watch", "Field Watch"),
                (49, 1499),
                {
                    "case size": ("36 mm", "38 mm", "40 mm", "42 mm"),
                    "strap": ("leather", "steel bracelet", "NATO nylon", "rubber"),
                    "water resistance": ("50 m", "100 m", "200 m"),
                },
            ),
        ),
    ),
    DepartmentSpec(
        name="Toys & Games",
        slug="toys-games",
        code="TOY",
        description="Board games, building sets, puzzles and toys for all ages.",
        brands=("Brickly", "Playwise", "Tumbletop", "Puzzlewood", "Whimsy Works"),
        model_prefixes=("Quest ", "Galaxy ", "Junior ", "Mega ", "Classic ", "Wild "),
        model_suffixes=("", "", "", "Deluxe", "Junior", "XL", "Family Edition"),
        uses=(
            "family game nights",
            "curious kids and the grown-ups who play along",
            "rainy afternoons and long holidays",
            "birthdays, holidays and just-because gifts",
        ),
        features=(
            "safety-tested, non-toxic materials",
            "clear, illustrated instructions",
            "a sturdy box that doubles as storage",
            "pieces sized for small hands",
            "hours of replay value",
            "packaging that is plastic-free",
        ),
        leaves=(
            LeafSpec(
                "Board Games",
                "board-games",
                "Strategy games, party games and card games for the whole table.",
                ("Board Game", "Strategy Game", "Party Game", "Card Game"),
                (12, 89),
                {
                    "players": ("2-4 players", "2-6 players", "3-8 players"),
                    "age": AGES[2:],
                    "play time": ("20 minutes", "45 minutes", "90 minutes"),
                },
                weight=3,
            ),
            LeafSpec(
                "Building Sets",
                "building-sets",
                "Brick sets and construction kits, from first builds to display models.",
                ("Building Set", "Construction Kit", "Brick Set"),
                (14, 399),
                {
                    "pieces": ("250 pieces", "500 pieces", "1,200 pieces", "2,500 pieces"),
                    "age": AGES[1:],
                },
                weight=3,
            ),
            LeafSpec(
                "Jigsaw Puzzles",
                "jigsaw-puzzles",
                "Jigsaw puzzles from 500 to 2,000 pieces.",
                ("Jigsaw Puzzle", "Panorama Jigsaw Puzzle"),
                (9, 49),
                {
                    "pieces": ("500 pieces", "1,000 pieces", "1,500 pieces", "2,000 pieces"),
                    "theme": ("landscape", "map", "fine art", "wildlife"),
                },
            ),
            LeafSpec(
                "Remote Control Toys",
                "remote-control-toys",
                "RC cars, boats and camera drones.",
                ("RC Car", "Camera Drone", "RC Boat", "Stunt Car"),
                (24, 349),
                {
                    "range": ("30 m", "50 m", "100 m"),
                    "battery life": ("15 minutes", "25 minutes", "40 minutes"),
                    "age": AGES[2:],
                },
            ),
            LeafSpec(
                "Plush Toys",
                "plush-toys",
                "Teddy bears and soft toys to cuddle.",
                ("Plush Toy", "Teddy Bear", "Soft Toy"),
                (9, 69),
                {
                    "size": ("20 cm", "30 cm", "45 cm", "60 cm"),
                    "material": ("recycled polyester", "organic cotton"),
                    "colour": BRIGHT_COLOURS,
                },
                weight=1,
            ),
        ),
    ),
    DepartmentSpec(
        name="Books",
        slug="books",
        code="BKS",
        description="Fiction, cookbooks, children's books, science and travel.",
        brands=(
            "Larkspur Press",
            "Ember & Quill",
            "Fieldnote Books",
            "Northlight Publishing",
            "Harrow House",
        ),
        model_prefixes=("Paperback", "Hardcover", "Paperback", "Large Print"),
        model_suffixes=(),
        uses=(),
        features=(),
        books=True,
        leaves=(
            LeafSpec(
                "Fiction",
                "fiction",
                "Novels and short stories, from new voices to modern classics.",
                ("Novel",),
                (8, 28),
                {"pages": ("224", "288", "352", "416", "512")},
                weight=4,
            ),
            LeafSpec(
                "Cookbooks",
                "cookbooks",
                "Cookbooks for weeknights, baking and feeding a crowd.",
                ("Cookbook",),
                (12, 40),
                {"pages": ("192", "256", "320", "384")},
            ),
            LeafSpec(
                "Children's Books",
                "childrens-books",
                "Picture books and first chapter books for young readers.",
                ("Picture Book", "Children's Book"),
                (5, 18),
                {"pages": ("32", "48", "96", "160"), "age": AGES[:4]},
                weight=3,
            ),
            LeafSpec(
                "Science & Nature",
                "science-nature",
                "Popular science and nature writing that explains the world.",
                ("Science Book", "Nature Book"),
                (10, 32),
                {"pages": ("256", "304", "368", "432")},
            ),
            LeafSpec(
                "Travel Guides",
                "travel-guides",
                "Guidebooks and maps for city breaks and long journeys.",
                ("Travel Guide",),
                (9, 29),
                {"pages": ("192", "256", "320")},
                weight=1,
            ),
        ),
    ),
)

ADJECTIVES = (
    "lightweight",
    "versatile",
    "dependable",
    "well-made",
    "compact",
    "premium",
    "thoughtfully designed",
    "hard-wearing",
    "good-looking",
    "reliable",
)
CLOSINGS = (
    "It ships free in recyclable packaging.",
    "It is backed by a {years}-year {brand} warranty.",
    "Returns are free within 30 days.",
    "Order before 2 pm for next-day delivery.",
    "Spare parts are available for at least five years.",
)
IMAGE_VIEWS = ("side view", "back view", "detail", "in use", "packaging", "top view")
BOOK_VIEWS = ("back cover", "sample pages", "spine", "inside flap")

FIRST_NAMES = (
    "Ada",
    "Amara",
    "Ben",
    "Clara",
    "Dev",
    "Elena",
    "Felix",
    "Greta",
    "Hugo",
    "Ines",
    "Jonah",
    "Kaia",
    "Leo",
    "Maya",
    "Niko",
    "Olive",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Viktor",
    "Wren",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Abernathy",
    "Bright",
    "Castellan",
    "Dunmore",
    "Ellery",
    "Fairweather",
    "Garrow",
    "Hollis",
    "Ivers",
    "Jansen",
    "Kettering",
    "Lindqvist",
    "Marlow",
    "Novak",
    "Okafor",
    "Pemberton",
    "Quill",
    "Rourke",
    "Sato",
    "Thorne",
    "Underhill",
    "Vance",
    "Whitlock",
    "Yardley",
)
TITLE_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "fiction": {
        "patterns": (
            "The {adj} {thing}",
            "{thing} of {place}",
            "A {season} in {place}",
            "The Last {person}",
            "The {person}'s {thing}",
            "{adj} {thing}s",
            "The {person} of {place}",
            "Under the {adj} {thing}",
        ),
        "adj": (
            "Silent",
            "Crimson",
            "Hidden",
            "Burning",
            "Forgotten",
            "Glass",
            "Hollow",
            "Midnight",
            "Restless",
            "Salt",
            "Silver",
            "Wild",
            "Winter",
            "Golden",
            "Broken",
            "Distant",
            "Quiet",
            "Paper",
            "Iron",
            "Lantern",
        ),
        "thing": (
            "Harbor",
            "Orchard",
            "Lighthouse",
            "River",
            "Garden",
            "Letter",
            "Bridge",
            "Tide",
            "Island",
            "Map",
            "Mirror",
            "Crown",
            "Storm",
            "House",
            "Field",
            "Shore",
            "Clock",
            "Valley",
            "Ember",
            "Compass",
        ),
        "place": (
            "Ashford",
            "Brightwater",
            "Caldera",
            "Dunmere",
            "Eastmoor",
            "Farrow",
            "Greyhaven",
            "Hollowmere",
            "Kestrel Bay",
            "Larkhill",
            "Marrowby",
            "Northwick",
            "Oakridge",
            "Pellmouth",
            "Ravensholm",
            "Stillwater",
        ),
        "season": ("Summer", "Winter", "Spring", "Autumn", "Year", "Week", "Night"),
        "person": (
            "Cartographer",
            "Lighthouse Keeper",
            "Beekeeper",
            "Clockmaker",
            "Ferryman",
            "Botanist",
            "Archivist",
            "Gardener",
            "Watchmaker",
            "Translator",
        ),
    },
    "cookbooks": {
        "patterns": (
            "{cuisine} Kitchen",
            "The {cuisine} Table",
            "Simply {cuisine}",
            "{meal} {cuisine}",
            "{number} {cuisine} Recipes",
            "{cuisine} {course}",
            "{meal} {course}",
            "{number} {meal} {course}",
            "{cuisine} {course} for {audience}",
        ),
        "cuisine": (
            "Mediterranean",
            "Plant-Based",
            "One-Pot",
            "Nordic",
            "Japanese",
            "Mexican",
            "Levantine",
            "Italian",
            "Korean",
            "Sourdough",
            "Weeknight",
            "Family",
            "Vegetarian",
            "Seasonal",
            "Slow-Cooker",
            "Thai",
            "Indian",
            "Greek",
            "Coastal",
        ),
        "meal": ("Everyday", "Sunday", "Midweek", "Fast", "Fresh", "Little", "Big", "Easy"),
        "number": ("50", "75", "100", "120", "150", "200"),
        "course": (
            "Baking",
            "Suppers",
            "Salads",
            "Soups",
            "Feasts",
            "Breakfasts",
            "Desserts",
            "Bowls",
            "Grilling",
            "Bakes",
            "Noodles",
            "Curries",
        ),
        "audience": ("Two", "Beginners", "Busy Families", "a Crowd", "Every Season", "Students"),
    },
    "childrens-books": {
        "patterns": (
            "The {kid_adj} Little {animal}",
            "{hero} and the {kid_thing}",
            "Goodnight, {animal}",
            "Where Is {hero}'s {kid_thing}?",
            "{hero} the {animal}",
            "The {kid_adj} {animal} and the {kid_thing}",
        ),
        "kid_adj": (
            "Brave",
            "Sleepy",
            "Curious",
            "Tiny",
            "Grumpy",
            "Busy",
            "Shy",
            "Happy",
            "Noisy",
            "Lost",
            "Clever",
            "Hungry",
        ),
        "animal": (
            "Fox",
            "Owl",
            "Bear",
            "Rabbit",
            "Hedgehog",
            "Badger",
            "Otter",
            "Penguin",
            "Mouse",
            "Whale",
            "Tiger",
            "Duckling",
            "Elephant",
            "Squirrel",
        ),
        "hero": FIRST_NAMES,
        "kid_thing": (
            "Red Balloon",
            "Moon",
            "Big Storm",
            "Lost Kite",
            "Magic Boots",
            "Missing Hat",
            "Secret Door",
            "Dragon",
            "Rainbow",
            "Paper Boat",
        ),
    },
    "science-nature": {
        "patterns": (
            "The Hidden Life of {subject}",
            "{subject}: A Short History",
            "Why {subject} Matter",
            "The Secret World of {subject}",
            "Understanding {subject}",
            "In Praise of {subject}",
            "{subject} and {other}",
            "A {tone} History of {subject}",
            "The {tone} Science of {subject}",
            "What {subject} Teach Us About {other}",
        ),
        "subject": (
            "Rivers",
            "Trees",
            "Fungi",
            "Bees",
            "Clouds",
            "Stars",
            "Bones",
            "Oceans",
            "Moss",
            "Birds",
            "Glaciers",
            "Volcanoes",
            "Atoms",
            "Genes",
            "Microbes",
            "Wolves",
            "Whales",
            "Seeds",
            "Numbers",
            "Ants",
            "Forests",
            "Deserts",
            "Comets",
            "Crystals",
        ),
        "other": ("Time", "Ourselves", "Change", "Patience", "Cooperation", "Survival", "Home"),
        "tone": (
            "Brief",
            "Curious",
            "Natural",
            "Surprising",
            "Hidden",
            "Remarkable",
            "Secret",
            "Wild",
            "Unexpected",
            "Elegant",
        ),
    },
    "travel-guides": {
        "patterns": (
            "{destination}",
            "{destination} on Foot",
            "Weekends in {destination}",
            "{destination} by Train",
            "The Best of {destination}",
            "{destination} with Kids",
            "{destination}: {theme}",
            "{days} Days in {destination}",
        ),
        "destination": (
            "Portugal",
            "Lisbon & Porto",
            "Andalusia",
            "Tuscany",
            "Iceland",
            "Norway",
            "the Scottish Highlands",
            "Kyoto",
            "Japan",
            "Vietnam",
            "Morocco",
            "Patagonia",
            "New Zealand",
            "Croatia",
            "the Alps",
            "Ireland",
            "Provence",
            "Crete",
            "Sicily",
            "Copenhagen",
            "Berlin",
            "Vienna",
            "Mexico City",
            "Peru",
            "Sri Lanka",
            "Slovenia",
            "Cornwall",
            "the Lake District",
            "Normandy",
            "the Dolomites",
            "Madeira",
            "Lapland",
            "Hokkaido",
            "Costa Rica",
            "Chile",
            "the Canary Islands",
            "Sardinia",
            "the Azores",
        ),
        "theme": (
            "Walks and Hikes",
            "Food and Drink",
            "Off the Beaten Track",
            "Family Adventures",
            "Art and Architecture",
            "Coasts and Islands",
            "Towns and Villages",
            "Road Trips",
        ),
        "days": ("3", "5", "7", "10", "14", "21"),
    },
}
BOOK_ADJECTIVES = (
    "moving",
    "gripping",
    "warm-hearted",
    "beautifully written",
    "thought-provoking",
    "page-turning",
    "joyful",
    "richly illustrated",
    "practical",
    "lyrical",
)
BOOK_HOOKS = (
    "Readers have called it impossible to put down.",
    "It is the kind of book you lend to a friend and then ask for back.",
    "Every chapter rewards a second reading.",
    "It has been translated into more than a dozen languages.",
    "It was shortlisted for several prizes on its first publication.",
    "It makes a lovely gift.",
)


# ---------------------------------------------------------------------------------------------
# Generated rows
# ---------------------------------------------------------------------------------------------


class DemoCategory(NamedTuple):
    id: int
    name: str
    slug: str
    parent_id: int | None
    description: str
    position: int


class DemoImage(NamedTuple):
    position: int
    hue: int
    alt: str


class DemoProduct(NamedTuple):
    """One generated product with its stock and images; times are offsets before 'now'."""

    id: int
    sku: str
    name: str
    slug: str
    brand: str
    model: str
    attributes: dict[str, str]
    description: str
    price: Decimal
    category_id: int
    rating: Decimal
    review_count: int
    is_active: bool
    created_seconds_ago: int
    updated_seconds_ago: int
    stock: int
    images: tuple[DemoImage, ...]


@dataclass(frozen=True)
class SeedSummary:
    """What ``seed_catalog`` wrote and how long it took."""

    products: int
    images: int
    categories: int
    departments: int
    out_of_stock: int
    low_stock: int
    seconds: float
    replaced_products: int = 0  # products deleted by ``replace=True``


class CatalogNotEmptyError(Exception):
    """The catalog already holds data and the caller did not ask to replace it."""

    def __init__(self, products: int, categories: int) -> None:
        self.products = products
        self.categories = categories
        super().__init__(
            f"the catalog already holds {products} products and {categories} categories"
        )


class CatalogInUseError(Exception):
    """Other rows still reference the catalog, so it cannot be deleted."""


def build_categories() -> list[DemoCategory]:
    """Return the fixed two-level tree: departments first (ids 1..8), then their leaves."""
    rows: list[DemoCategory] = []
    for position, dept in enumerate(DEPARTMENTS):
        rows.append(
            DemoCategory(position + 1, dept.name, dept.slug, None, dept.description, position)
        )
    next_id = len(DEPARTMENTS) + 1
    for dept_index, dept in enumerate(DEPARTMENTS):
        for position, leaf in enumerate(dept.leaves):
            rows.append(
                DemoCategory(
                    next_id, leaf.name, leaf.slug, dept_index + 1, leaf.description, position
                )
            )
            next_id += 1
    return rows


def _quota(count: int, share: float) -> int:
    """Rows out of ``count`` that get a property held by ``share`` of them; at least one."""
    if count <= 0:
        return 0
    return min(count, max(1, round(count * share)))


def _log_price(rng: random.Random, low: int, high: int) -> Decimal:
    """A shop-like price between low and high: log-uniform, ending in .99, .95, .49 or .00."""
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    if value >= 200:
        whole = int(round(value / 10) * 10)
    elif value >= 50:
        whole = int(round(value / 5) * 5)
    else:
        whole = max(1, int(value))
    cents = rng.choice((99, 99, 99, 95, 49, 0)) if whole < 1000 else rng.choice((99, 0))
    total = whole * 100 + cents - (100 if cents else 0)
    return Decimal(max(total, 99)).scaleb(-2)


def _rating(rng: random.Random) -> tuple[Decimal, int]:
    """A (rating, review_count) pair: a few unreviewed, most between 3.5 and 4.9."""
    if rng.random() < 0.08:
        return Decimal("0.0"), 0
    reviews = max(1, min(25_000, int(rng.lognormvariate(3.2, 1.3))))
    spread = 1.0 if reviews < 5 else 0.45
    stars = min(5.0, max(1.0, rng.gauss(4.25, spread)))
    return Decimal(round(stars * 10)).scaleb(-1), reviews


def _model_name(rng: random.Random, dept: DepartmentSpec) -> str:
    """A model name such as 'X15 Pro', 'Aero 14', 'Metro' or 'Heritage 87 Classic'."""
    prefix = rng.choice(dept.model_prefixes)
    if not prefix.endswith(" "):
        base = f"{prefix}{rng.randint(2, 99)}"  # "X15", "QC45"
    elif rng.random() < 0.3:
        base = prefix.strip()  # a word on its own: "Metro", "Heritage"
    else:
        base = f"{prefix}{rng.randint(1, 99)}"  # "Aero 14", "Trail 7"
    suffix = rng.choice(dept.model_suffixes)
    return f"{base} {suffix}" if suffix else base


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _book_title(rng: random.Random, leaf: LeafSpec) -> str:
    words = TITLE_WORDS[leaf.slug]
    pattern = rng.choice(words["patterns"])
    values = {key: rng.choice(options) for key, options in words.items() if key != "patterns"}
    title = pattern.format(**values)
    return title[0].upper() + title[1:]


def _goods_text(
    rng: random.Random,
    dept: DepartmentSpec,
    name: str,
    brand: str,
    model: str,
    noun: str,
    attributes: dict[str, str],
    rating: Decimal,
    reviews: int,
) -> str:
    """A paragraph of description for a non-book product, from templates and attributes."""
    adjective = rng.choice(ADJECTIVES)
    use = rng.choice(dept.uses)
    noun_l = noun.lower() if not noun[:2].isupper() else noun
    opening = rng.choice(
        (
            f"The {name} is {_article(adjective)} {adjective} {noun_l} from {brand}, "
            f"made for {use}.",
            f"Meet the {model} {noun_l}: {brand}'s {adjective} pick for {use}.",
            f"{brand} designed the {model} {noun_l} for {use}.",
        )
    )
    first, second = rng.sample(dept.features, 2)
    features = rng.choice(
        (
            f"It comes with {first} and {second}.",
            f"Highlights include {first} and {second}.",
            f"You get {first}, plus {second}.",
        )
    )
    specs = "; ".join(f"{key} {value}" for key, value in attributes.items())
    sentences = [opening, features, f"Specifications: {specs}."]
    if "colour" in attributes:
        sentences.append(f"This one is finished in {attributes['colour'].lower()}.")
    if reviews >= 10 and rating >= Decimal("4.0"):
        sentences.append(f"Shoppers rate it {rating} out of 5 across {reviews:,} reviews.")
    closing = rng.choice(CLOSINGS)
    sentences.append(closing.format(years=rng.choice((1, 2, 3)), brand=brand))
    return " ".join(sentences)


def _book_text(
    rng: random.Random,
    title: str,
    author: str,
    publisher: str,
    noun: str,
    fmt: str,
    pages: str,
) -> str:
    """A paragraph of description for a book."""
    adjective = rng.choice(BOOK_ADJECTIVES)
    return " ".join(
        (
            f"{title} is {_article(adjective)} {adjective} {noun.lower()} by {author}.",
            rng.choice(BOOK_HOOKS),
            f"This {fmt.lower()} edition runs to {pages} pages and is published by {publisher}.",
            rng.choice(CLOSINGS[2:4]),
        )
    )


def _images(
    rng: random.Random, name: str, attributes: dict[str, str], books: bool
) -> tuple[DemoImage, ...]:
    """1 to 4 images; the first one's hue follows the colour when the colour has a hue."""
    count = rng.choices((1, 2, 3, 4), weights=IMAGE_COUNT_WEIGHTS)[0]
    hue = COLOUR_HUES.get(attributes.get("colour", ""), rng.randrange(360))
    first_view = "front cover" if books else "front view"
    views = rng.sample(BOOK_VIEWS if books else IMAGE_VIEWS, count - 1)
    images = [DemoImage(0, hue, f"{name}, {first_view}")]
    for position, view in enumerate(views, start=1):
        images.append(DemoImage(position, (hue + rng.randint(-25, 25)) % 360, f"{name}, {view}"))
    return tuple(images)


def generate_products(count: int, seed: int = DEFAULT_SEED) -> Iterator[DemoProduct]:
    """Yield ``count`` products with ids 1..count; the same seed always yields the same rows.

    Category ids match ``build_categories()``. Stock levels, inactive products and brand-new
    products are exact quotas (5 %, 10 %, 2 %, 0.5 %) spread at random over the catalog.
    """
    rng = random.Random(seed)
    categories = build_categories()
    leaf_rows = [row for row in categories if row.parent_id is not None]
    leaves: list[tuple[DepartmentSpec, LeafSpec, int]] = []
    for dept in DEPARTMENTS:
        for leaf in dept.leaves:
            leaves.append((dept, leaf, leaf_rows[len(leaves)].id))
    cum_weights: list[int] = []
    total = 0
    for _, leaf, _ in leaves:
        total += leaf.weight
        cum_weights.append(total)

    order = list(range(count))
    rng.shuffle(order)
    out_count = _quota(count, OUT_OF_STOCK_SHARE)
    low_count = min(count - out_count, _quota(count, LOW_STOCK_SHARE))
    out_of_stock = set(order[:out_count])
    low_stock = set(order[out_count : out_count + low_count])
    inactive = set(rng.sample(range(count), round(count * INACTIVE_SHARE)))
    new_today = set(rng.sample(range(count), _quota(count, NEW_TODAY_SHARE)))

    seen_names: set[str] = set()
    slug_counts: dict[str, int] = {}
    history = HISTORY_DAYS * DAY
    for index in range(count):
        dept, leaf, category_id = rng.choices(leaves, cum_weights=cum_weights)[0]
        brand = rng.choice(dept.brands)
        noun = rng.choice(leaf.nouns)
        attributes = {key: rng.choice(values) for key, values in leaf.attributes.items()}
        for _attempt in range(8):
            if dept.books:
                model = rng.choice(dept.model_prefixes)
                title = _book_title(rng, leaf)
                name = f"{title}: {_article(noun).capitalize()} {noun} ({model})"
            else:
                model = _model_name(rng, dept)
                name = f"{brand} {model} {noun}"
            if name not in seen_names:
                break
        seen_names.add(name)
        base_slug = slugify(name)[:200]
        duplicates = slug_counts.get(base_slug, 0)
        slug_counts[base_slug] = duplicates + 1
        slug = base_slug if not duplicates else f"{base_slug}-{duplicates + 1}"

        rating, reviews = _rating(rng)
        price = _log_price(rng, *leaf.price)
        if dept.books:
            author = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            attributes = {"author": author, "format": model, **attributes, "language": "English"}
            description = _book_text(rng, title, author, brand, noun, model, attributes["pages"])
        else:
            description = _goods_text(
                rng, dept, name, brand, model, noun, attributes, rating, reviews
            )

        if index in out_of_stock:
            stock = 0
        elif index in low_stock:
            stock = rng.randint(1, LOW_STOCK_MAX)
        else:
            stock = rng.randint(*STOCK_RANGE)
        if index in new_today:
            created = rng.randrange(60, DAY)
        else:
            created = DAY + int((history - DAY) * rng.random() ** 1.3)
        updated = int(created * rng.random() ** 2)

        product_id = index + 1
        yield DemoProduct(
            id=product_id,
            sku=f"SH-{dept.code}-{product_id:07d}",
            name=name,
            slug=slug,
            brand=brand,
            model=model,
            attributes=attributes,
            description=description,
            price=price,
            category_id=category_id,
            rating=rating,
            review_count=reviews,
            is_active=index not in inactive,
            created_seconds_ago=created,
            updated_seconds_ago=updated,
            stock=stock,
            images=_images(rng, name, attributes, dept.books),
        )


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

CATALOG_MODELS: tuple[type[Model], ...] = (ProductImage, Stock, Product, Category)


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _copy_sql(model: type[Model], fields: Sequence[str]) -> str:
    columns = ", ".join(
        connection.ops.quote_name(model._meta.get_field(name).column) for name in fields
    )
    return f"COPY {_table(model)} ({columns}) FROM STDIN"


def catalog_counts() -> tuple[int, int]:
    """Return (products, categories) currently in the database."""
    return Product.objects.count(), Category.objects.count()


def delete_catalog() -> None:
    """Delete images, stock, products and categories with plain SQL (no signals, no cascade).

    Raises CatalogInUseError if rows of other tables still reference products or categories.
    Must run inside a transaction.
    """
    with connection.cursor() as cursor:
        for model in CATALOG_MODELS:
            cursor.execute(f"DELETE FROM {_table(model)}")
        try:
            # Foreign keys are deferred; check them now to name the problem, then defer again.
            with transaction.atomic():
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        except IntegrityError as exc:
            raise CatalogInUseError(
                f"other rows still reference the catalog, so it cannot be replaced: {exc}"
            ) from exc
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _write_rows(sql: str, rows: Iterable[Sequence[object]]) -> None:
    with connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _notify_catalog_changed() -> None:
    """Call catalog.services.catalog_changed_everything() if that function exists."""
    try:
        services = importlib.import_module("catalog.services")
    except ModuleNotFoundError as exc:
        if exc.name != "catalog.services":
            raise
        return
    changed = getattr(services, "catalog_changed_everything", None)
    if changed is not None:
        changed()


def seed_catalog(
    products: int,
    seed: int = DEFAULT_SEED,
    *,
    replace: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> SeedSummary:
    """Load a demo catalog of ``products`` products in one transaction and return a summary.

    Raises CatalogNotEmptyError if products or categories exist and ``replace`` is false;
    with ``replace`` the existing catalog is deleted first. ``progress`` is called with the
    number of products written since its last call. The cache is told once the data commits.
    """
    if products < 0:
        raise ValueError("products must be zero or more")
    started = time.perf_counter()
    now = now or timezone.now()
    categories = build_categories()
    image_rows: list[tuple[int, int, int, int, str]] = []
    stock_rows: list[tuple[int, int, datetime]] = []
    out_of_stock = low_stock = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            tables = ", ".join(_table(model) for model in CATALOG_MODELS)
            # Writers wait, readers keep reading the old catalog until the commit; a second
            # seeder waits here instead of failing on a duplicate key.
            cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        existing_products, existing_categories = catalog_counts()
        replaced = bool(existing_products or existing_categories)
        if replaced:
            if not replace:
                raise CatalogNotEmptyError(existing_products, existing_categories)
            delete_catalog()

        _write_rows(
            _copy_sql(Category, ("id", "name", "slug", "parent", "description", "position")),
            categories,
        )
        product_sql = _copy_sql(
            Product,
            (
                "id",
                "sku",
                "name",
                "slug",
                "brand",
                "model",
                "attributes",
                "description",
                "price",
                "category",
                "rating",
                "review_count",
                "is_active",
                "created_at",
                "updated_at",
            ),
        )
        pending = 0
        with connection.cursor() as cursor, cursor.copy(product_sql) as copy:
            for row in generate_products(products, seed):
                updated_at = now - timedelta(seconds=row.updated_seconds_ago)
                copy.write_row(
                    (
                        row.id,
                        row.sku,
                        row.name,
                        row.slug,
                        row.brand,
                        row.model,
                        json.dumps(row.attributes, ensure_ascii=False),
                        row.description,
                        row.price,
                        row.category_id,
                        row.rating,
                        row.review_count,
                        row.is_active,
                        now - timedelta(seconds=row.created_seconds_ago),
                        updated_at,
                    )
                )
                stock_rows.append((row.id, row.stock, updated_at))
                if row.stock == 0:
                    out_of_stock += 1
                elif row.stock <= LOW_STOCK_MAX:
                    low_stock += 1
                for image in row.images:
                    image_rows.append(
                        (len(image_rows) + 1, row.id, image.position, image.hue, image.alt)
                    )
                pending += 1
                if progress is not None and pending == 1000:
                    progress(pending)
                    pending = 0
        if progress is not None and pending:
            progress(pending)
        _write_rows(_copy_sql(Stock, ("product", "quantity", "updated_at")), stock_rows)
        _write_rows(
            _copy_sql(ProductImage, ("id", "product", "position", "hue", "alt")), image_rows
        )
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [Category, Product, ProductImage]
            ):
                cursor.execute(sql)
            # Fresh planner statistics, so the first queries after a load get sensible plans.
            cursor.execute(f"ANALYZE {', '.join(_table(model) for model in CATALOG_MODELS)}")
        transaction.on_commit(_notify_catalog_changed)
    return SeedSummary(
        products=products,
        images=len(image_rows),
        categories=len(categories),
        departments=sum(1 for row in categories if row.parent_id is None),
        out_of_stock=out_of_stock,
        low_stock=low_stock,
        seconds=time.perf_counter() - started,
        replaced_products=existing_products if replaced else 0,
    )


def vacuum_catalog() -> bool:
    """VACUUM the catalog tables after a replace; return False inside a transaction (no-op).

    A replace leaves the old rows dead; where autovacuum is off or slow they would pile up
    with every reseed.
    """
    if connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(_table(model) for model in CATALOG_MODELS)}")
    return True
