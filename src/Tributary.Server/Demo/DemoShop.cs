using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tributary.Server.Demo;

/// <summary>Creates Tributary's demo database: a deterministic, realistic shop.</summary>
public static class DemoShop
{
    /// <summary>File name of the demo database inside the data directory.</summary>
    public const string FileName = "demo-shop.db";

    // Bump when the schema or the data changes: an older file then no longer counts as complete and is rebuilt.
    private const string SchemaVersion = "2";
    private const int Seed = 20261123;
    private const int CustomerCount = 5_000;
    private const int ProductCount = 300;
    private const int OrderCount = 60_000;
    private const int LogCount = 20_000;

    // All times are whole seconds after Start; SpanSeconds ends at a fixed "now" (2026-01-01), so order
    // statuses and log times never depend on the clock.
    private const int Day = 86_400;
    private const int SpanSeconds = 731 * Day;
    private const int LogWindowSeconds = 21 * Day;
    private static readonly DateTime Start = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private const string Schema = """
        CREATE TABLE demo_meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;

        CREATE TABLE customers (
            id         INTEGER PRIMARY KEY,
            email      TEXT NOT NULL UNIQUE,
            name       TEXT NOT NULL,
            country    TEXT NOT NULL CHECK (length(country) = 2),
            city       TEXT,
            created_at TEXT NOT NULL,
            tier       TEXT NOT NULL DEFAULT 'standard' CHECK (tier IN ('standard', 'silver', 'gold'))
        ) STRICT;

        CREATE TABLE products (
            id          INTEGER PRIMARY KEY,
            sku         TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            category    TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents > 0),
            stock       INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),
            active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
        ) STRICT;

        CREATE TABLE orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
            status      TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            currency    TEXT NOT NULL DEFAULT 'USD',
            created_at  TEXT NOT NULL,
            shipped_at  TEXT NULL CHECK (shipped_at IS NULL OR shipped_at > created_at),
            note        TEXT NULL,
            version     INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)
        ) STRICT;
        CREATE INDEX idx_orders_customer_id ON orders (customer_id);
        CREATE INDEX idx_orders_created_at ON orders (created_at);
        CREATE INDEX idx_orders_status_created_at ON orders (status, created_at);

        CREATE TABLE order_items (
            id               INTEGER PRIMARY KEY,
            order_id         INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
            product_id       INTEGER NOT NULL REFERENCES products (id),
            quantity         INTEGER NOT NULL CHECK (quantity > 0),
            unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
            UNIQUE (order_id, product_id)
        ) STRICT;
        CREATE INDEX idx_order_items_product_id ON order_items (product_id);

        CREATE TABLE app_logs (
            id       INTEGER PRIMARY KEY,
            ts       TEXT NOT NULL,
            level    TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
            service  TEXT NOT NULL,
            message  TEXT NOT NULL,
            trace_id TEXT NULL,
            order_id INTEGER NULL REFERENCES orders (id)
        ) STRICT;
        CREATE INDEX idx_app_logs_ts ON app_logs (ts);
        CREATE INDEX idx_app_logs_level_ts ON app_logs (level, ts);

        CREATE VIEW order_summaries AS
        SELECT o.id AS order_id,
               c.email AS customer_email,
               o.status,
               (SELECT count(*) FROM order_items AS i WHERE i.order_id = o.id) AS item_count,
               o.total_cents
        FROM orders AS o
        JOIN customers AS c ON c.id = o.customer_id;
        """;

    private static readonly (string Code, int Weight, string[] Cities)[] Countries =
    [
        ("US", 34, ["New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Austin", "Boston", "Denver", "San Francisco", "Atlanta"]),
        ("GB", 10, ["London", "Manchester", "Birmingham", "Edinburgh", "Bristol", "Leeds"]),
        ("DE", 9, ["Berlin", "Munich", "Hamburg", "Cologne", "Frankfurt"]),
        ("CA", 7, ["Toronto", "Vancouver", "Montreal", "Calgary", "Ottawa"]),
        ("FR", 6, ["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux"]),
        ("AU", 5, ["Sydney", "Melbourne", "Brisbane", "Perth"]),
        ("NL", 4, ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"]),
        ("ES", 4, ["Madrid", "Barcelona", "Valencia", "Seville"]),
        ("IT", 4, ["Milan", "Rome", "Turin", "Bologna"]),
        ("JP", 4, ["Tokyo", "Osaka", "Yokohama", "Kyoto"]),
        ("BR", 4, ["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba"]),
        ("IN", 4, ["Bengaluru", "Mumbai", "Delhi", "Pune", "Hyderabad"]),
        ("SE", 3, ["Stockholm", "Gothenburg", "Malmö"]),
        ("MX", 3, ["Mexico City", "Guadalajara", "Monterrey"]),
        ("IE", 2, ["Dublin", "Cork"]),
        ("PL", 2, ["Warsaw", "Kraków", "Wrocław"]),
    ];

    private static readonly string[] FirstNames =
    [
        "James", "Mary", "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Sophia", "Mateo", "Isabella", "Ethan",
        "Mia", "Amelia", "Oliver", "Charlotte", "Elijah", "Harper", "Benjamin", "Evelyn", "Henry", "Aria", "Leo",
        "Chloe", "Daniel", "Grace", "Samuel", "Zoe", "David", "Nora", "Hannah", "Jonas", "Lena", "Felix", "Clara",
        "Hugo", "Louise", "Luca", "Giulia", "Marco", "Sofia", "Pablo", "Lucia", "Diego", "Camila", "Gabriel", "Ana",
        "Rafael", "Beatriz", "Lars", "Ingrid", "Erik", "Astrid", "Piotr", "Zofia", "Aarav", "Priya", "Arjun",
        "Ananya", "Rohan", "Kavya", "Wei", "Mei", "Hiroshi", "Yuki", "Haruto", "Sakura", "Minjun", "Jiwoo", "Omar",
        "Fatima", "Yusuf", "Layla", "Kwame", "Amara", "Sean", "Aoife", "Connor",
    ];

    private static readonly string[] LastNames =
    [
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
        "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
        "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Evans", "Turner", "Murphy", "Kelly", "O'Brien",
        "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Dubois", "Moreau", "Laurent", "Rossi",
        "Russo", "Ferrari", "Fernandez", "Lopez", "Gonzalez", "Silva", "Santos", "Oliveira", "Costa", "Jansen",
        "de Vries", "van Dijk", "Andersson", "Johansson", "Nilsson", "Kowalski", "Nowak", "Patel", "Sharma", "Singh",
        "Gupta", "Kumar", "Chen", "Wang", "Zhang", "Liu", "Tanaka", "Suzuki", "Sato", "Kim", "Park", "Nguyen",
        "Tran", "Hassan", "Ali", "Mensah", "Okafor",
    ];

    private static readonly (string Domain, int Weight)[] EmailDomains =
    [
        ("gmail.com", 40), ("outlook.com", 14), ("yahoo.com", 10), ("icloud.com", 10), ("hotmail.com", 6),
        ("proton.me", 4), ("gmx.de", 3), ("web.de", 2), ("fastmail.com", 2),
    ];

    // Name is a composite format: {0} is the brand, {1} the item.
    private static readonly (string Name, string SkuPrefix, string NameFormat, string[] Brands, (string Name, int Dollars)[] Items)[] Categories =
    [
        ("Electronics", "ELE", "{0} {1}", ["Nimbus", "Vertex", "Auralis", "Kestrel", "Lumio", "Voltra"],
        [
            ("Wireless Earbuds", 79), ("Bluetooth Speaker", 59), ("USB-C Charger 65W", 35), ("Mechanical Keyboard", 110),
            ("Wireless Mouse", 29), ("4K Monitor 27in", 349), ("Noise-Cancelling Headphones", 229), ("Smart Watch", 199),
            ("Portable SSD 1TB", 119), ("Webcam 1080p", 49), ("Power Bank 20000mAh", 45), ("HDMI Cable 2m", 12),
        ]),
        ("Home & Kitchen", "HOM", "{0} {1}", ["Hearthly", "Oakmere", "Casa Nova", "Kitchora", "Ember & Ash", "Norden"],
        [
            ("Chef's Knife 8in", 60), ("Cast Iron Skillet", 35), ("French Press", 30), ("Electric Kettle", 45),
            ("Bamboo Cutting Board", 25), ("Nonstick Frying Pan", 40), ("Stand Mixer", 280), ("Coffee Grinder", 55),
            ("Glass Food Containers (10-pack)", 32), ("Linen Tablecloth", 38), ("Throw Blanket", 45), ("Scented Candle", 18),
        ]),
        ("Books", "BOO", "{1} ({0})", ["Paperback", "Hardcover", "Large Print", "Special Edition", "Box Set", "Audiobook"],
        [
            ("The Quiet Algorithm", 18), ("Data at Dawn", 22), ("Practical SQL Patterns", 39), ("The Lighthouse Keeper", 16),
            ("Small Gods of the City", 15), ("Designing Calm Systems", 42), ("A Field Guide to Birds", 28), ("The Long Harvest", 17),
            ("Cooking with Fire", 30), ("Mountains in Winter", 24), ("Letters from Lisbon", 16), ("The Patient Gardener", 21),
        ]),
        ("Clothing", "CLO", "{0} {1}", ["Tidewear", "Harbor & Pine", "Loomcraft", "Stride", "Urbanist", "Alpenglow"],
        [
            ("Merino T-Shirt", 45), ("Rain Jacket", 120), ("Slim Chinos", 60), ("Hoodie", 55), ("Wool Socks (3-pack)", 22),
            ("Denim Jacket", 95), ("Running Shorts", 35), ("Puffer Vest", 85), ("Linen Shirt", 58), ("Beanie", 20),
            ("Leather Belt", 40), ("Sneakers", 90),
        ]),
        ("Sports & Outdoors", "SPO", "{0} {1}", ["Summitline", "Trailhead", "Peakform", "Riverstone", "Basecamp", "Kinetic"],
        [
            ("Yoga Mat", 35), ("Trekking Poles", 70), ("2-Person Tent", 190), ("Sleeping Bag", 120),
            ("Insulated Water Bottle", 28), ("Resistance Bands Set", 25), ("Adjustable Dumbbells", 230), ("Cycling Helmet", 80),
            ("Headlamp", 30), ("Camping Stove", 65), ("Jump Rope", 15), ("Foam Roller", 28),
        ]),
        ("Toys & Games", "TOY", "{0} {1}", ["Tinker & Co", "Playwise", "Bramble", "Little Owl", "Zoomio", "Jolly Fox"],
        [
            ("Wooden Train Set", 45), ("Building Blocks (500 pcs)", 40), ("Jigsaw Puzzle (1000 pcs)", 22),
            ("Strategy Board Game", 38), ("Plush Bear", 20), ("Remote Control Car", 55), ("Science Kit", 35), ("Card Game", 14),
            ("Kite", 25), ("Art Set", 30), ("Dollhouse", 120), ("Marble Run", 48),
        ]),
        ("Beauty", "BEA", "{0} {1}", ["Lumière", "Verde", "Glow Theory", "Pure Ritual", "Saltwater", "Bloom & Birch"],
        [
            ("Vitamin C Serum", 28), ("Daily Moisturizer", 24), ("Sunscreen SPF 50", 18), ("Clay Face Mask", 20),
            ("Shampoo Bar", 12), ("Hair Dryer", 85), ("Lip Balm (4-pack)", 10), ("Eau de Parfum 50ml", 75),
            ("Bamboo Toothbrush (4-pack)", 9), ("Body Lotion", 16), ("Beard Oil", 19), ("Nail Care Kit", 26),
        ]),
        ("Grocery", "GRO", "{0} {1}", ["Golden Acre", "Fieldhouse", "Wildgrain", "Casa Verde", "Honeycomb", "Morning Ritual"],
        [
            ("Coffee Beans 1kg", 32), ("Matcha Powder", 24), ("Extra Virgin Olive Oil 1L", 22), ("Dark Chocolate (5-pack)", 15),
            ("Raw Honey 500g", 14), ("Sparkling Water (12-pack)", 9), ("Granola", 8), ("Green Tea (50 bags)", 8),
            ("Mixed Nuts 1kg", 26), ("Maple Syrup", 16), ("Pasta Sampler", 19), ("Hot Sauce Trio", 21),
        ]),
        ("Office", "OFF", "{0} {1}", ["Inkwell", "Quillon", "Deskwise", "Paperlane", "Atelier", "Studio Nine"],
        [
            ("Dotted Notebook A5", 14), ("Fountain Pen", 45), ("Desk Lamp", 55), ("Ergonomic Chair", 320),
            ("Standing Desk", 480), ("Monitor Arm", 90), ("Gel Pens (12-pack)", 12), ("Desk Organizer", 28),
            ("Sticky Notes (24-pack)", 16), ("Laptop Stand", 40), ("Whiteboard", 60), ("Paper Shredder", 110),
        ]),
        ("Garden", "GAR", "{0} {1}", ["Greenhaven", "Rootwell", "Sproutly", "Fernhill", "Terra Firma", "Meadowbrook"],
        [
            ("Garden Hose 30m", 45), ("Pruning Shears", 28), ("Raised Garden Bed", 150), ("Seed Starter Kit", 24),
            ("Watering Can", 22), ("Compost Bin", 85), ("Solar Path Lights (6-pack)", 40), ("Gardening Gloves", 15),
            ("Bird Feeder", 30), ("Planter Pot Set", 48), ("Lawn Sprinkler", 35), ("Hand Trowel", 14),
        ]),
    ];

    private static readonly string[] OrderNotes =
    [
        "Please leave at the front door", "Gift wrap, please", "Call on arrival", "Deliver after 5 pm",
        "Fragile: handle with care", "It's a birthday present - no invoice in the box", "Leave with the neighbour if I'm out",
    ];

    private static readonly string[] Carriers = ["UPS", "DHL", "FedEx", "USPS"];

    private static readonly string[] SearchTerms =
    [
        "wireless earbuds", "yoga mat", "coffee", "desk lamp", "gift for dad", "tent", "sunscreen", "board game",
        "usb-c charger", "notebook", "standing desk", "candle",
    ];

    private readonly record struct Customer(string Email, string Name, string Country, string? City, int CreatedAt);

    private readonly record struct Product(string Sku, string Name, string Category, int PriceCents, int Stock, bool Active);

    private readonly record struct Item(int ProductId, int Quantity, int UnitPriceCents);

    private sealed record Order(int CustomerId, string Status, int CreatedAt, int? ShippedAt, string? Note, Item[] Items, long TotalCents);

    private readonly record struct LogEntry(int Ts, int Sequence, string Level, string Service, string Message, string? TraceId, int? OrderId);

    /// <summary>Creates the database at <paramref name="path"/> unless a complete one exists; returns true when it was created now.</summary>
    /// <param name="path">Where the database file belongs, normally <see cref="FileName"/> inside the data directory.</param>
    /// <returns>True when this call created the database; false when a complete one was already there.</returns>
    public static bool EnsureCreated(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        path = Path.GetFullPath(path);
        if (IsComplete(path))
        {
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // A file that is there but not complete is an older version or a stray file: replace it.
        var replace = File.Exists(path);
        var temporary = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            Build(temporary);
            try
            {
                File.Move(temporary, path, overwrite: replace);
                return true;
            }
            catch (IOException) when (IsComplete(path))
            {
                // Another process moved its copy into place first; the content is the same, so keep theirs.
                return false;
            }
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static bool IsComplete(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            using var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadOnly));
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT value FROM demo_meta WHERE key = 'version'";
            return command.ExecuteScalar() as string == SchemaVersion;
        }
        catch (SqliteException)
        {
            // Not a database, or one without demo_meta: not ours, or not finished.
            return false;
        }
    }

    // Pooling is off so that no pooled handle keeps the file open once the connection is disposed: the temporary
    // file must be movable, and nothing may linger on the final one.
    private static string ConnectionString(string path, SqliteOpenMode mode) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = mode,
        Pooling = false,
        ForeignKeys = true,
    }.ToString();

    private static void Build(string path)
    {
        var random = new Random(Seed);
        var customers = GenerateCustomers(random);
        var products = GenerateProducts(random);
        var orders = GenerateOrders(random, customers, products);
        var tiers = AssignTiers(orders);
        var logs = GenerateLogs(random, orders, products);

        using var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadWriteCreate));
        connection.Open();
        // A 64 MiB cache holds the whole build (about 19 MB), so every page is written once, at commit.
        Execute(connection, "PRAGMA journal_mode = DELETE; PRAGMA cache_size = -65536;");
        using var transaction = connection.BeginTransaction();
        Execute(connection, Schema);

        using (var insert = Insert(connection, "customers", "id", "email", "name", "country", "city", "created_at", "tier"))
        {
            for (var i = 0; i < customers.Length; i++)
            {
                var c = customers[i];
                Run(insert, i + 1, c.Email, c.Name, c.Country, c.City, Timestamp(c.CreatedAt), tiers[i]);
            }
        }

        using (var insert = Insert(connection, "products", "id", "sku", "name", "category", "price_cents", "stock", "active"))
        {
            for (var i = 0; i < products.Length; i++)
            {
                var p = products[i];
                Run(insert, i + 1, p.Sku, p.Name, p.Category, p.PriceCents, p.Stock, p.Active ? 1 : 0);
            }
        }

        using (var insertOrder = Insert(connection, "orders", "id", "customer_id", "status", "total_cents", "created_at", "shipped_at", "note"))
        using (var insertItem = Insert(connection, "order_items", "id", "order_id", "product_id", "quantity", "unit_price_cents"))
        {
            var itemId = 0;
            for (var i = 0; i < orders.Length; i++)
            {
                var o = orders[i];
                var shippedAt = o.ShippedAt is { } shipped ? Timestamp(shipped) : null;
                Run(insertOrder, i + 1, o.CustomerId, o.Status, o.TotalCents, Timestamp(o.CreatedAt), shippedAt, o.Note);
                foreach (var item in o.Items)
                {
                    Run(insertItem, ++itemId, i + 1, item.ProductId, item.Quantity, item.UnitPriceCents);
                }
            }
        }

        using (var insert = Insert(connection, "app_logs", "id", "ts", "level", "service", "message", "trace_id", "order_id"))
        {
            for (var i = 0; i < logs.Length; i++)
            {
                var l = logs[i];
                Run(insert, i + 1, Timestamp(l.Ts), l.Level, l.Service, l.Message, l.TraceId, l.OrderId);
            }
        }

        // Readers get planner statistics; the version row goes last because it marks the file as complete.
        Execute(connection, "ANALYZE");
        using (var insert = Insert(connection, "demo_meta", "key", "value"))
        {
            Run(insert, "version", SchemaVersion);
        }

        transaction.Commit();
    }

    private static Customer[] GenerateCustomers(Random random)
    {
        var customers = new Customer[CustomerCount];
        var emails = new HashSet<string>(StringComparer.Ordinal);
        // Sign-ups are spread evenly until two weeks before "now", one slot each, so ids follow signup time.
        var slot = (SpanSeconds - (14 * Day)) / CustomerCount;
        for (var i = 0; i < customers.Length; i++)
        {
            var first = Pick(random, FirstNames);
            var last = Pick(random, LastNames);
            var country = PickWeighted(random, Countries, c => c.Weight);
            var city = random.Next(100) < 4 ? null : Pick(random, country.Cities);
            var f = EmailPart(first);
            var l = EmailPart(last);
            var local = random.Next(5) switch
            {
                0 => $"{f}.{l}",
                1 => $"{f}{l}",
                2 => $"{f[0]}.{l}",
                3 => $"{f}_{l}{random.Next(10, 100)}",
                _ => $"{f}{random.Next(1960, 2006)}",
            };
            var domain = PickWeighted(random, EmailDomains, d => d.Weight).Domain;
            var email = $"{local}@{domain}";
            for (var n = 2; !emails.Add(email); n++)
            {
                email = $"{local}{n}@{domain}";
            }

            customers[i] = new Customer(email, $"{first} {last}", country.Code, city, (i * slot) + random.Next(slot));
        }

        return customers;
    }

    private static Product[] GenerateProducts(Random random)
    {
        var products = new List<Product>(ProductCount);
        var perCategory = ProductCount / Categories.Length;
        foreach (var category in Categories)
        {
            // Every brand/item pair, shuffled, so names within a category never repeat.
            var pairs = category.Brands.SelectMany(brand => category.Items.Select(item => (Brand: brand, Item: item))).ToArray();
            random.Shuffle(pairs);
            for (var i = 0; i < perCategory; i++)
            {
                var (brand, item) = pairs[i];
                var dollars = Math.Max(1, item.Dollars * random.Next(85, 126) / 100);
                var active = random.Next(100) >= 4;
                var stockRoll = random.Next(100);
                var stock = !active || stockRoll < 5 ? 0 : stockRoll < 13 ? random.Next(1, 10) : random.Next(10, 800);
                products.Add(new Product(
                    $"{category.SkuPrefix}-{1000 + products.Count + 1}",
                    string.Format(CultureInfo.InvariantCulture, category.NameFormat, brand, item.Name),
                    category.Name,
                    (dollars * 100) - 1,
                    stock,
                    active));
            }
        }

        return [.. products];
    }

    private static Order[] GenerateOrders(Random random, Customer[] customers, Product[] products)
    {
        // The later of two uniform draws: order volume grows linearly over the two years.
        var times = new int[OrderCount];
        for (var i = 0; i < times.Length; i++)
        {
            times[i] = Math.Max(Math.Max(random.Next(SpanSeconds), random.Next(SpanSeconds)), customers[0].CreatedAt + 60);
        }

        Array.Sort(times);

        // A fixed shuffled ranking with a triangular draw makes a few products best-sellers and many rarely sold.
        var popularity = Enumerable.Range(1, products.Length).ToArray();
        random.Shuffle(popularity);

        var orders = new Order[OrderCount];
        var signedUp = 0;
        for (var i = 0; i < orders.Length; i++)
        {
            var createdAt = times[i];
            while (signedUp < customers.Length && customers[signedUp].CreatedAt < createdAt)
            {
                signedUp++;
            }

            var itemRoll = random.Next(100);
            var items = new Item[itemRoll < 50 ? 1 : itemRoll < 78 ? 2 : itemRoll < 92 ? 3 : 4];
            long total = 0;
            for (var j = 0; j < items.Length; j++)
            {
                // Slots not yet filled hold product 0, which never matches a real product id.
                int productId;
                do
                {
                    productId = popularity[Math.Min(random.Next(products.Length), random.Next(products.Length))];
                }
                while (Array.Exists(items, item => item.ProductId == productId));

                var quantityRoll = random.Next(100);
                var quantity = quantityRoll < 80 ? 1 : quantityRoll < 94 ? 2 : quantityRoll < 98 ? 3 : random.Next(4, 7);
                var price = products[productId - 1].PriceCents;
                var unitPrice = random.Next(100) < 8 ? price * (100 - (5 * random.Next(2, 5))) / 100 : price;
                items[j] = new Item(productId, quantity, unitPrice);
                total += (long)quantity * unitPrice;
            }

            var (status, shippedAt) = Lifecycle(random, createdAt);
            var note = random.Next(100) < 3 ? Pick(random, OrderNotes) : null;
            orders[i] = new Order(random.Next(signedUp) + 1, status, createdAt, shippedAt, note, items, total);
        }

        return orders;
    }

    private static (string Status, int? ShippedAt) Lifecycle(Random random, int createdAt)
    {
        var age = SpanSeconds - createdAt;
        var roll = random.Next(1000);
        if (roll < 40)
        {
            return ("cancelled", null);
        }

        if (age > 14 * Day && roll < 60)
        {
            return ("refunded", null);
        }

        // A handful of old orders are stuck waiting for payment, as in any real shop.
        if (age < 2 * 3600 || (age > 30 * Day && roll < 63))
        {
            return ("pending", null);
        }

        if (age < Day)
        {
            return (roll < 150 ? "pending" : "paid", null);
        }

        // Shipping takes 3 to 72 hours and has happened by "now".
        var shippedAt = createdAt + random.Next(3 * 3600, Math.Min(72 * 3600, age));
        if (age < 4 * Day)
        {
            return roll < 300 && age < 2 * Day ? ("paid", null) : ("shipped", shippedAt);
        }

        return ("delivered", shippedAt);
    }

    // Gold is the top 5% of customers by settled spend, silver the next 15%.
    private static string[] AssignTiers(Order[] orders)
    {
        var spend = new long[CustomerCount];
        foreach (var order in orders)
        {
            if (order.Status is "paid" or "shipped" or "delivered")
            {
                spend[order.CustomerId - 1] += order.TotalCents;
            }
        }

        var ranking = Enumerable.Range(0, CustomerCount).OrderByDescending(i => spend[i]).ThenBy(i => i).ToArray();
        var tiers = new string[CustomerCount];
        for (var rank = 0; rank < ranking.Length; rank++)
        {
            tiers[ranking[rank]] = rank < CustomerCount / 20 ? "gold" : rank < CustomerCount / 5 ? "silver" : "standard";
        }

        return tiers;
    }

    // Logs cover the last three weeks, as if older ones had been rotated away.
    private static LogEntry[] GenerateLogs(Random random, Order[] orders, Product[] products)
    {
        const int windowStart = SpanSeconds - LogWindowSeconds;
        var logs = new List<LogEntry>(LogCount);

        void Log(int ts, string level, string service, string message, string? traceId = null, int? orderId = null)
        {
            if (ts is >= windowStart and < SpanSeconds)
            {
                logs.Add(new LogEntry(ts, logs.Count, level, service, message, traceId, orderId));
            }
        }

        // Orders created up to two weeks before the window can still be refunded inside it.
        var first = Array.FindIndex(orders, o => o.CreatedAt >= windowStart - (14 * Day));
        for (var i = first; i < orders.Length; i++)
        {
            var o = orders[i];
            var id = i + 1;
            var trace = TraceId(random);
            var amount = $"{o.TotalCents / 100}.{o.TotalCents % 100:D2} USD";
            Log(o.CreatedAt, "info", "orders-api", $"order {id} created for customer {o.CustomerId} with {o.Items.Length} item(s)", trace, id);
            switch (o.Status)
            {
                case "cancelled" when random.Next(2) == 0:
                    Log(o.CreatedAt + random.Next(1, 5), "warn", "payments-api", $"payment declined for order {id}: card_declined", trace, id);
                    break;
                case "cancelled":
                    Log(o.CreatedAt + random.Next(60, 7200), "info", "orders-api", $"order {id} cancelled by customer", TraceId(random), id);
                    break;
                case "pending":
                    Log(o.CreatedAt + random.Next(1, 5), "debug", "payments-api", $"awaiting payment confirmation for order {id}", trace, id);
                    break;
                default:
                    Log(o.CreatedAt + random.Next(1, 5), "info", "payments-api", $"payment authorized for order {id} ({amount})", trace, id);
                    if (random.Next(3) == 0)
                    {
                        Log(o.CreatedAt + random.Next(5, 60), "info", "notifications", $"order confirmation email sent to customer {o.CustomerId}", trace, id);
                    }

                    break;
            }

            if (o.ShippedAt is { } shippedAt)
            {
                var tracking = random.NextInt64(100_000_000_000, 1_000_000_000_000);
                Log(shippedAt, "info", "fulfillment", $"order {id} shipped via {Pick(random, Carriers)}, tracking {tracking}", TraceId(random), id);
            }

            if (o.Status == "refunded")
            {
                Log(o.CreatedAt + random.Next(2 * Day, 14 * Day), "info", "payments-api", $"refund issued for order {id} ({amount})", TraceId(random), id);
            }
        }

        for (var day = windowStart; day < SpanSeconds; day += Day)
        {
            var duration = random.Next(40, 180);
            Log(day + (2 * 3600), "info", "scheduler", "job nightly-reconciliation started");
            Log(day + (2 * 3600) + duration, "info", "scheduler", $"job nightly-reconciliation finished in {duration} s");
            Log(day + (3 * 3600) + 1800, "info", "scheduler", $"job search-index-rebuild finished: {products.Length} products indexed");
            Log(day + (10 * 3600), "info", "scheduler", $"job abandoned-cart-reminders sent {random.Next(20, 140)} emails");
        }

        // Two incidents, so that questions like "when did errors spike?" have an answer.
        var outage = Seconds(new DateTime(2025, 12, 18, 14, 2, 0, DateTimeKind.Utc));
        Log(outage + 95, "error", "checkout-api", "circuit breaker opened for payments-api after 5 consecutive failures");
        for (var i = 0; i < 110; i++)
        {
            var ts = outage + random.Next(36 * 60);
            if (random.Next(10) < 7)
            {
                Log(ts, "error", "checkout-api", "timeout calling payments-api after 3000 ms", TraceId(random));
            }
            else
            {
                Log(ts, "warn", "checkout-api", $"retrying payments-api call (attempt {random.Next(2, 4)} of 3)", TraceId(random));
            }
        }

        Log(outage + (36 * 60), "info", "checkout-api", "circuit breaker closed for payments-api");

        var poolExhaustion = Seconds(new DateTime(2025, 12, 27, 9, 15, 0, DateTimeKind.Utc));
        for (var i = 0; i < 60; i++)
        {
            var ts = poolExhaustion + random.Next(12 * 60);
            Log(ts, "warn", "orders-api", i % 3 == 0
                ? $"slow query on orders took {random.Next(2000, 9000)} ms"
                : $"database connection pool exhausted (max 50); request waited {random.Next(200, 5000)} ms", TraceId(random));
        }

        var lowStock = products.Where(p => p.Active && p.Stock is > 0 and < 10).ToArray();
        while (logs.Count < LogCount)
        {
            var ts = windowStart + random.Next(LogWindowSeconds);
            var customer = random.Next(CustomerCount) + 1;
            var product = random.Next(products.Length) + 1;
            var roll = random.Next(100);
            if (roll < 8)
            {
                Log(ts, "debug", "api-gateway", $"GET /health 200 in {random.Next(1, 5)} ms");
                continue;
            }

            if (roll < 11)
            {
                var p = Pick(random, lowStock);
                Log(ts, "warn", "inventory-service", $"inventory low for sku {p.Sku} ({p.Stock} left)");
                continue;
            }

            var (level, service, message) = roll switch
            {
                < 16 => ("debug", "catalog-api", $"cache miss for product {product}"),
                < 40 => ("info", "api-gateway", $"GET /api/products/{product} 200 in {Latency(random)} ms"),
                < 52 => ("info", "api-gateway", $"GET /api/orders?customer_id={customer} 200 in {Latency(random)} ms"),
                < 64 => ("info", "auth-service", $"customer {customer} signed in"),
                < 74 => ("info", "catalog-api", $"search for \"{Pick(random, SearchTerms)}\" returned {random.Next(0, 60)} results"),
                < 84 => ("info", "cart-api", $"customer {customer} added product {product} to cart"),
                < 89 => ("warn", "auth-service", $"failed sign-in for customer {customer}: invalid password"),
                < 92 => ("warn", "api-gateway", $"rate limit exceeded for client 203.0.113.{random.Next(1, 255)}"),
                < 94 => ("warn", "orders-api", $"slow query on orders took {random.Next(800, 3000)} ms"),
                < 96 => ("error", "checkout-api", "timeout calling payments-api after 3000 ms"),
                < 97 => ("error", "notifications", $"failed to send email to customer {customer}: SMTP 451 temporary failure"),
                < 99 => ("error", "api-gateway", $"GET /api/products/{product} 500 in {Latency(random)} ms"),
                _ => ("error", "checkout-api", "unhandled exception in POST /api/checkout: NullReferenceException: Object reference not set to an instance of an object"),
            };
            Log(ts, level, service, message, TraceId(random));
        }

        // Ids follow time, as an append-only log table would; the sequence keeps ties in a fixed order.
        return [.. logs.OrderBy(l => l.Ts).ThenBy(l => l.Sequence)];
    }

    private static int Latency(Random random) => random.Next(8, 70) + (random.Next(20) == 0 ? random.Next(300, 1800) : 0);

    private static string TraceId(Random random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static T Pick<T>(Random random, T[] values) => values[random.Next(values.Length)];

    private static T PickWeighted<T>(Random random, T[] values, Func<T, int> weight)
    {
        var roll = random.Next(values.Sum(weight));
        foreach (var value in values)
        {
            roll -= weight(value);
            if (roll < 0)
            {
                return value;
            }
        }

        throw new InvalidOperationException("Weights must be positive.");
    }

    private static string EmailPart(string name) => string.Concat(name.Where(char.IsAsciiLetter)).ToLowerInvariant();

    private static int Seconds(DateTime utc) => (int)(utc - Start).TotalSeconds;

    private static string Timestamp(int seconds) =>
        Start.AddSeconds(seconds).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Insert(SqliteConnection connection, string table, params string[] columns)
    {
        var command = connection.CreateCommand();
        command.CommandText = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(c => "$" + c))})";
        foreach (var column in columns)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "$" + column;
            command.Parameters.Add(parameter);
        }

        command.Prepare();
        return command;
    }

    private static void Run(SqliteCommand command, params ReadOnlySpan<object?> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        command.ExecuteNonQuery();
    }
}
